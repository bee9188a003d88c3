#!/bin/sh
# ExaBGP API process for bgpfeed/speaker tests: announces one route with
# an AS_SET in its path, then stays alive (ExaBGP respawns a process that
# exits and would announce again). ExaBGP reads these lines on stdout.
sleep 1
echo "announce route 192.0.2.0/24 next-hop self origin egp as-path [ $1 64670 ( 64671 64672 ) ]"
exec sleep 3600
