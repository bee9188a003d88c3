package mrt

import (
	"strconv"

	"github.com/bgpsentry/bgpsentry/bgpfeed"
)

// AppendBGPDump appends u in the one-line format of `bgpdump -m` (with a
// trailing newline), so a dump can be diffed against bgpdump's. Large
// communities are not printed, as bgpdump 1.6 does not print them.
func AppendBGPDump(buf []byte, u *bgpfeed.Update) []byte {
	switch u.Format {
	case bgpfeed.FormatBGP4MPET:
		buf = append(buf, "BGP4MP_ET|"...)
		buf = strconv.AppendInt(buf, u.Time.Unix(), 10)
		buf = append(buf, '.')
		us := u.Time.Nanosecond() / 1000
		for d := 100000; d > 1; d /= 10 {
			if us < d {
				buf = append(buf, '0')
			}
		}
		buf = strconv.AppendInt(buf, int64(us), 10)
	case bgpfeed.FormatTableDump:
		buf = append(buf, "TABLE_DUMP|"...)
		buf = strconv.AppendInt(buf, u.Time.Unix(), 10)
	case bgpfeed.FormatTableDumpV2:
		if u.PathID != 0 {
			buf = append(buf, "TABLE_DUMP2_AP|"...)
		} else {
			buf = append(buf, "TABLE_DUMP2|"...)
		}
		buf = strconv.AppendInt(buf, u.Time.Unix(), 10)
	default:
		buf = append(buf, "BGP4MP|"...)
		buf = strconv.AppendInt(buf, u.Time.Unix(), 10)
	}
	switch {
	case u.Kind == bgpfeed.KindState:
		buf = append(buf, "|STATE|"...)
	case u.Kind == bgpfeed.KindWithdraw:
		buf = append(buf, "|W|"...)
	case u.Table:
		buf = append(buf, "|B|"...)
	default:
		buf = append(buf, "|A|"...)
	}
	buf = u.PeerAddr.AppendTo(buf)
	buf = append(buf, '|')
	buf = strconv.AppendUint(buf, uint64(u.PeerASN), 10)
	buf = append(buf, '|')
	if u.Kind == bgpfeed.KindState {
		buf = strconv.AppendUint(buf, uint64(u.OldState), 10)
		buf = append(buf, '|')
		buf = strconv.AppendUint(buf, uint64(u.NewState), 10)
		return append(buf, '\n')
	}
	buf = u.Prefix.AppendTo(buf)
	if u.Kind == bgpfeed.KindWithdraw {
		return append(buf, '\n')
	}
	if u.Format == bgpfeed.FormatTableDumpV2 && u.PathID != 0 {
		buf = append(buf, '|')
		buf = strconv.AppendUint(buf, uint64(u.PathID), 10)
	}
	a := u.Attrs
	if a == nil {
		a = &bgpfeed.Attrs{}
	}
	buf = append(buf, '|')
	buf = append(buf, a.Path.String()...)
	buf = append(buf, '|')
	buf = append(buf, a.OriginType.String()...)
	buf = append(buf, '|')
	if a.NextHop.IsValid() {
		buf = a.NextHop.AppendTo(buf)
	}
	buf = append(buf, '|')
	buf = strconv.AppendUint(buf, uint64(a.LocalPref), 10)
	buf = append(buf, '|')
	buf = strconv.AppendUint(buf, uint64(a.MED), 10)
	buf = append(buf, '|')
	for i, c := range a.Communities {
		if i > 0 {
			buf = append(buf, ' ')
		}
		buf = appendCommunity(buf, c)
	}
	if a.AtomicAggregate {
		buf = append(buf, "|AG|"...)
	} else {
		buf = append(buf, "|NAG|"...)
	}
	if a.AggregatorASN != 0 || a.AggregatorAddr.IsValid() {
		buf = strconv.AppendUint(buf, uint64(a.AggregatorASN), 10)
		buf = append(buf, ' ')
		buf = a.AggregatorAddr.AppendTo(buf)
	}
	return append(buf, "|\n"...)
}

func appendCommunity(buf []byte, c uint32) []byte {
	switch c {
	case 0xFFFFFF01:
		return append(buf, "no-export"...)
	case 0xFFFFFF02:
		return append(buf, "no-advertise"...)
	case 0xFFFFFF03:
		return append(buf, "no-export-subconfed"...)
	}
	buf = strconv.AppendUint(buf, uint64(c>>16), 10)
	buf = append(buf, ':')
	return strconv.AppendUint(buf, uint64(c&0xFFFF), 10)
}
