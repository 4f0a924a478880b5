module example.com/workflow-function

go 1.22
