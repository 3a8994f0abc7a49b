// Package onnxpb holds the Go types of the ONNX protobuf schema (package
// onnx), generated from onnx.proto of ONNX 1.12 (IR version 8, opsets up to
// 17; newer IR versions only add fields this project does not use).
//
// The generated onnx.pb.go is committed, so a normal build never needs
// protoc. To regenerate (protoc 3.21 and protoc-gen-go v1.36.12 on PATH):
//
//	go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
//	go generate ./graph/onnxpb
//
// onnx.proto is a verbatim copy of Debian libonnx-dev's
// /usr/include/onnx/onnx.proto (Apache-2.0, SPDX header kept in the file).
package onnxpb

//go:generate protoc --proto_path=. --go_out=. --go_opt=paths=source_relative --go_opt=Monnx.proto=github.com/vimconvert/vimconvert/graph/onnxpb onnx.proto
