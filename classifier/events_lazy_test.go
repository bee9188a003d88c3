package classifier

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	pb "github.com/bgpsentry/bgpsentry/proto/bgpsentry/v1"
	"google.golang.org/protobuf/proto"
)

// TestAddLazySameAsAdd: AddLazy writes the same events as Add given the
// same reasons, and asks for the reasons only of the verdicts it keeps
// them for (fewer calls than verdicts on a stream with vetoes and repeated
// alerts).
func TestAddLazySameAsAdd(t *testing.T) {
	var ra, rb recorder
	a := NewEventer(EventerConfig{MinPeers: 2}, ra.emit)
	b := NewEventer(EventerConfig{MinPeers: 2}, rb.emit)
	r := rand.New(rand.NewPCG(3, 4))
	calls, flagged := 0, 0
	for i := range 3000 {
		u := upd(time.Duration(i)*time.Second, 1+r.IntN(8), fmt.Sprintf("10.%d.0.0/16", r.IntN(20)), uint32(3356+r.IntN(3)), uint32(64500+r.IntN(6)))
		k := Class(r.IntN(5))
		p := r.Float64()
		reasons := []*pb.Reason{{Feature: "origin_known_for_prefix", Value: float64(i), Contribution: p}}
		if k != Benign {
			flagged++
			c := cand(u, 64499)
			a.Add(c, verdict(k, p), reasons)
			err := b.AddLazy(cand(u, 64499), verdict(k, p), func() ([]*pb.Reason, error) {
				calls++
				return reasons, nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		a.Route(u)
		b.Route(u)
	}
	ea, eb := append(ra.evs, a.Open()...), append(rb.evs, b.Open()...)
	if len(ea) != len(eb) || len(ea) == 0 {
		t.Fatalf("%d events vs %d", len(ea), len(eb))
	}
	for i := range ea {
		if !proto.Equal(ea[i], eb[i]) {
			t.Fatalf("event %d:\n%v\n%v", i, ea[i], eb[i])
		}
	}
	if calls == 0 || calls >= flagged {
		t.Fatalf("reasons computed %d times for %d flagged verdicts", calls, flagged)
	}
	t.Logf("%d events, reasons for %d of %d flagged verdicts", len(ea), calls, flagged)
}
