// Package tritonpb holds the Go types of NVIDIA Triton Inference Server's
// model configuration schema (protobuf package inference), generated from
// model_config.proto of triton-inference-server/common at commit
// b0b538731dfbd910af5b90027f811677526072d8 (the last commit touching the file
// in the snapshot read on 2026-12-06).
//
// The generated model_config.pb.go is committed, so a normal build never
// needs protoc. To regenerate (protoc 3.21 and protoc-gen-go v1.36.12 on PATH):
//
//	go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
//	go generate ./graph/triton/third_party/tritonpb
//
// model_config.proto is a verbatim copy (BSD-3-Clause, NVIDIA's licence header
// kept in the file).
package tritonpb

//go:generate protoc --proto_path=. --go_out=. --go_opt=paths=source_relative --go_opt=Mmodel_config.proto=github.com/vimconvert/vimconvert/graph/triton/third_party/tritonpb model_config.proto
