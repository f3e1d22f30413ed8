// echo1k: the peer of bench/echo.c built with CONNS=1000.
package main

import "goc/bench/echonet"

func main() { echonet.Run("echo1k", 1000) }
