module github.com/vimconvert/vimconvert

go 1.26.0
