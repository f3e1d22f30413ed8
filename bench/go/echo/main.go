// echo: the peer of bench/echo.c, 64 connections.
package main

import "goc/bench/echonet"

func main() { echonet.Run("echo", 64) }
