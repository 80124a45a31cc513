module github.com/halun/halun

go 1.26.8
