#!/bin/sh
# ExaBGP API process driven by a test: follows the command file $1 (the
# test appends "announce route ..." / "withdraw route ..." lines to it) and
# hands every line to ExaBGP on stdout. Were ExaBGP to respawn it, it would
# replay the file from the start, which leaves the same routes announced.
exec tail -n +1 -f "$1"
