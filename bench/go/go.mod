module goc/bench

go 1.19
