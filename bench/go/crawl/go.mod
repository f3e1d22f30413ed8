// The Go peer of goc-crawl is a module of its own: it needs golang.org/x/net,
// which the other peers do not, so a machine without it still builds those.
// x/net comes from Debian's golang-golang-x-net-dev; nothing is downloaded.
module goc/bench/crawl

go 1.19

require (
	goc/bench v0.0.0
	golang.org/x/net v0.0.0
)

replace (
	goc/bench => ../
	golang.org/x/net => /usr/share/gocode/src/golang.org/x/net
)
