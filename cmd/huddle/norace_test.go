//go:build !race

package main

// raceEnabled says the tests run with the race detector, so the binaries they build
// and start get it too.
const raceEnabled = false
