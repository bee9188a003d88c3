package alertsvc

import (
	"fmt"
	"math"
	"net/netip"

	pb "github.com/bgpsentry/bgpsentry/proto/bgpsentry/v1"
)

// Limits on one filter, so that a subscriber's filter stays small and
// cheap to evaluate on every Publish.
const (
	MaxFilterTypes    = 16
	MaxFilterPrefixes = 1000 // exact prefixes
	MaxFilterCovering = 100  // covering prefixes
	MaxFilterASNs     = 1000
)

// filter is a compiled AlertFilter; a nil *filter matches every event.
type filter struct {
	types    uint64 // bit t set: type t passes; 0: any type
	exact    map[netip.Prefix]struct{}
	covering []netip.Prefix
	asns     map[uint32]struct{}
	minConf  float64
}

// compileFilter validates pf; its errors are meant for the client
// (InvalidArgument).
func compileFilter(pf *pb.AlertFilter) (*filter, error) {
	if pf == nil {
		return nil, nil
	}
	f := &filter{minConf: pf.GetMinConfidence()}
	if math.IsNaN(f.minConf) || f.minConf < 0 || f.minConf > 1 {
		return nil, fmt.Errorf("min_confidence %v is not between 0 and 1", f.minConf)
	}
	if n := len(pf.GetTypes()); n > MaxFilterTypes {
		return nil, fmt.Errorf("%d types, at most %d", n, MaxFilterTypes)
	}
	for _, t := range pf.GetTypes() {
		if _, ok := pb.AlertType_name[int32(t)]; !ok || t == pb.AlertType_ALERT_TYPE_UNSPECIFIED || t < 0 || t >= 64 {
			return nil, fmt.Errorf("unknown alert type %d", int32(t))
		}
		f.types |= 1 << uint(t)
	}
	if n := len(pf.GetPrefixes()); n > MaxFilterPrefixes {
		return nil, fmt.Errorf("%d prefixes, at most %d", n, MaxFilterPrefixes)
	}
	if n := len(pf.GetCoveringPrefixes()); n > MaxFilterCovering {
		return nil, fmt.Errorf("%d covering prefixes, at most %d", n, MaxFilterCovering)
	}
	if n := len(pf.GetAsns()); n > MaxFilterASNs {
		return nil, fmt.Errorf("%d ASNs, at most %d", n, MaxFilterASNs)
	}
	for _, s := range pf.GetPrefixes() {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("prefix %q: %w", s, err)
		}
		if f.exact == nil {
			f.exact = make(map[netip.Prefix]struct{}, len(pf.GetPrefixes()))
		}
		f.exact[p.Masked()] = struct{}{}
	}
	for _, s := range pf.GetCoveringPrefixes() {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("covering prefix %q: %w", s, err)
		}
		f.covering = append(f.covering, p.Masked())
	}
	for _, a := range pf.GetAsns() {
		if f.asns == nil {
			f.asns = make(map[uint32]struct{}, len(pf.GetAsns()))
		}
		f.asns[a] = struct{}{}
	}
	return f, nil
}

// match reports whether the event of e passes f.
func (f *filter) match(e *entry) bool {
	if f == nil {
		return true
	}
	ev := e.ev
	if f.types != 0 {
		t := ev.GetType()
		if t < 0 || t >= 64 || f.types&(1<<uint(t)) == 0 {
			return false
		}
	}
	if ev.GetConfidence() < f.minConf {
		return false
	}
	if f.asns != nil && !f.matchASN(ev) {
		return false
	}
	if f.exact == nil && f.covering == nil {
		return true
	}
	for _, p := range e.prefixes {
		if _, ok := f.exact[p]; ok {
			return true
		}
		for _, c := range f.covering {
			if c.Bits() <= p.Bits() && c.Contains(p.Addr()) {
				return true
			}
		}
	}
	return false
}

func (f *filter) matchASN(ev *pb.AlertEvent) bool {
	if _, ok := f.asns[ev.GetSuspectAsn()]; ok {
		return true
	}
	if _, ok := f.asns[ev.GetOriginAsn()]; ok {
		return true
	}
	for _, a := range ev.GetExpectedOrigins() {
		if _, ok := f.asns[a]; ok {
			return true
		}
	}
	return false
}

// eventPrefixes are the distinct valid prefixes an event is about: its
// prefix, its expected prefix and its listed prefixes.
func eventPrefixes(ev *pb.AlertEvent) []netip.Prefix {
	out := make([]netip.Prefix, 0, 2+len(ev.GetPrefixes()))
	add := func(s string) {
		if s == "" {
			return
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return
		}
		p = p.Masked()
		for _, q := range out {
			if q == p {
				return
			}
		}
		out = append(out, p)
	}
	add(ev.GetPrefix())
	add(ev.GetExpectedPrefix())
	for _, s := range ev.GetPrefixes() {
		add(s)
	}
	return out
}
