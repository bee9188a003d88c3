package alertsvc

import (
	"net"
	"testing"
	"time"
)

// TestAlertsLimitListener: at most n connections are open; Accept waits
// for one to close; Close releases a waiting Accept.
func TestAlertsLimitListener(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := newLimitListener(inner, 1)
	defer l.Close()
	accepted := make(chan net.Conn, 2)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c
		}
	}()
	for range 2 {
		c, err := net.Dial("tcp", inner.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	first := <-accepted
	select {
	case <-accepted:
		t.Fatal("a second connection was accepted while the first is open")
	case <-time.After(50 * time.Millisecond):
	}
	first.Close()
	first.Close() // releases once
	select {
	case c := <-accepted:
		c.Close()
	case <-time.After(testTimeout):
		t.Fatal("the second connection was not accepted after the first closed")
	}
	l.Close()
	select {
	case _, ok := <-accepted:
		if ok {
			t.Fatal("accepted after Close")
		}
	case <-time.After(testTimeout):
		t.Fatal("Accept did not return after Close")
	}
}

// FuzzAlertsPageToken: any token parses or fails without panicking, and
// a token made by pageToken reads back.
func FuzzAlertsPageToken(f *testing.F) {
	f.Add("", uint64(0), uint64(0))
	f.Add(pageToken(42, 0xdeadbeef), uint64(42), uint64(0xdeadbeef))
	f.Add("!!", uint64(1), uint64(2))
	f.Fuzz(func(t *testing.T, tok string, after, sum uint64) {
		parsePageToken(tok)
		a, s, err := parsePageToken(pageToken(after, sum))
		if err != nil || a != after || s != sum {
			t.Fatalf("round trip of (%d, %x): (%d, %x, %v)", after, sum, a, s, err)
		}
	})
}
