package inject

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/osrg/gobgp/v3/pkg/packet/bgp"
	gobgpmrt "github.com/osrg/gobgp/v3/pkg/packet/mrt"
)

// Output file names inside the output directory.
const (
	FileMRT       = "injected.mrt"
	FileLabels    = "labels.csv"
	FileVRPs      = "vrps.json"
	FileScenarios = "scenarios.json"
)

// LabelsHeader is the header of labels.csv.
const LabelsHeader = "time_unix,peer_addr,prefix,label,scenario,attacker_asn"

// maxNLRI bounds the prefixes packed into one UPDATE (well under the 4096
// byte message limit even for IPv6 and long paths).
const maxNLRI = 100

// WriteDir writes injected.mrt (gzip-compressed when gz), labels.csv,
// vrps.json and scenarios.json into dir, creating it if needed.
func (r *Result) WriteDir(dir string, gz bool) error {
	t0 := time.Now()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("inject: %w", err)
	}
	files := []struct {
		name  string
		write func(io.Writer) error
		gz    bool
	}{
		{FileMRT, r.WriteMRT, gz},
		{FileLabels, r.writeLabels, false},
		{FileVRPs, r.writeVRPs, false},
		{FileScenarios, r.writeScenarios, false},
	}
	for _, f := range files {
		if err := writeFile(filepath.Join(dir, f.name), f.gz, f.write); err != nil {
			return err
		}
	}
	r.Summary.WriteTime = time.Since(t0)
	return nil
}

func writeFile(path string, gz bool, write func(io.Writer) error) (err error) {
	fh, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("inject: %w", err)
	}
	defer func() {
		if cerr := fh.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("inject: %w", cerr)
		}
	}()
	bw := bufio.NewWriterSize(fh, 1<<20)
	var w io.Writer = bw
	var zw *gzip.Writer
	if gz {
		zw = gzip.NewWriter(bw) // no name, zero mtime: reproducible
		w = zw
	}
	if err := write(w); err != nil {
		return fmt.Errorf("inject: write %s: %w", path, err)
	}
	if zw != nil {
		if err := zw.Close(); err != nil {
			return fmt.Errorf("inject: write %s: %w", path, err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("inject: write %s: %w", path, err)
	}
	return nil
}

// WriteMRT writes the injected elements as BGP4MP_MESSAGE_AS4 records, in
// time order, packing the prefixes a peer sends with one path in one
// second into one UPDATE.
func (r *Result) WriteMRT(w io.Writer) error {
	msgs := r.msgs
	for i := 0; i < len(msgs); {
		m := msgs[i]
		j := i + 1
		for j < len(msgs) && j-i < maxNLRI && msgs[j].t == m.t && msgs[j].peer == m.peer &&
			(msgs[j].asns == nil) == (m.asns == nil) && famOf(msgs[j].prefix) == famOf(m.prefix) &&
			slices.Equal(msgs[j].asns, m.asns) {
			j++
		}
		p := r.Background.Peers[m.peer]
		body := gobgpmrt.NewBGP4MPMessage(p.ASN, p.LocalASN, p.IfIndex, p.Addr.String(), p.LocalAddr.String(), true, buildUpdate(p, msgs[i:j]))
		rec, err := gobgpmrt.NewMRTMessage(uint32(m.t), gobgpmrt.BGP4MP, gobgpmrt.MESSAGE_AS4, body)
		if err != nil {
			return err
		}
		b, err := rec.Serialize()
		if err != nil {
			return fmt.Errorf("peer %s at %d: %w", p.Addr, m.t, err)
		}
		if _, err := w.Write(b); err != nil {
			return err
		}
		i = j
	}
	return nil
}

func addrPrefix(p netip.Prefix) bgp.AddrPrefixInterface {
	if p.Addr().Is4() {
		return bgp.NewIPAddrPrefix(uint8(p.Bits()), p.Addr().String())
	}
	return bgp.NewIPv6AddrPrefix(uint8(p.Bits()), p.Addr().String())
}

// buildUpdate makes the UPDATE of a group of elements of one peer that
// share a kind, family and path. IPv4 over an IPv4 session uses the
// classic fields, everything else MP_REACH/MP_UNREACH_NLRI.
func buildUpdate(p *Peer, group []msg) *bgp.BGPMessage {
	f := famOf(group[0].prefix)
	classic := f == fam4 && p.Addr.Is4()
	var v4 []*bgp.IPAddrPrefix
	var mp []bgp.AddrPrefixInterface
	for _, m := range group {
		if classic {
			v4 = append(v4, bgp.NewIPAddrPrefix(uint8(m.prefix.Bits()), m.prefix.Addr().String()))
		} else {
			mp = append(mp, addrPrefix(m.prefix))
		}
	}
	asns := group[0].asns
	if asns == nil {
		if classic {
			return bgp.NewBGPUpdateMessage(v4, nil, nil)
		}
		return bgp.NewBGPUpdateMessage(nil, []bgp.PathAttributeInterface{bgp.NewPathAttributeMpUnreachNLRI(mp)}, nil)
	}
	var segs []bgp.AsPathParamInterface
	for i := 0; i < len(asns); i += 255 {
		segs = append(segs, bgp.NewAs4PathParam(bgp.BGP_ASPATH_ATTR_TYPE_SEQ, asns[i:min(i+255, len(asns))]))
	}
	attrs := []bgp.PathAttributeInterface{bgp.NewPathAttributeOrigin(bgp.BGP_ORIGIN_ATTR_TYPE_IGP), bgp.NewPathAttributeAsPath(segs)}
	if classic {
		attrs = append(attrs, bgp.NewPathAttributeNextHop(p.NextHop[f].String()))
		return bgp.NewBGPUpdateMessage(nil, attrs, v4)
	}
	attrs = append(attrs, bgp.NewPathAttributeMpReachNLRI(p.NextHop[f].String(), mp))
	return bgp.NewBGPUpdateMessage(nil, attrs, nil)
}

// writeLabels writes one row per injected announcement, in stream order.
func (r *Result) writeLabels(w io.Writer) error {
	bw := bufio.NewWriter(w)
	bw.WriteString(LabelsHeader + "\n")
	var line []byte
	for _, m := range r.msgs {
		if m.asns == nil {
			continue
		}
		in := r.Instances[m.inst-1]
		line = strconv.AppendInt(line[:0], m.t, 10)
		line = append(line, ',')
		line = r.Background.Peers[m.peer].Addr.AppendTo(line)
		line = append(line, ',')
		line = m.prefix.AppendTo(line)
		line = append(line, ',')
		line = append(line, in.Class...)
		line = append(line, ',')
		line = append(line, in.Scenario...)
		line = append(line, ',')
		line = strconv.AppendUint(line, uint64(in.AttackerASN), 10)
		line = append(line, '\n')
		bw.Write(line)
	}
	return bw.Flush()
}

type roaJSON struct {
	Prefix    string `json:"prefix"`
	MaxLength int    `json:"maxLength"`
	ASN       uint32 `json:"asn"`
	TA        string `json:"ta"`
}

// writeVRPs writes the ROAs as rpki-client JSON, one ROA per line.
func (r *Result) writeVRPs(w io.Writer) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "{\"metadata\":{\"generated_by\":\"bgpsentry inject\",\"seed\":%d,\"roas\":%d},\"roas\":[", r.seed, len(r.roas))
	for i, k := range r.roas {
		b, err := json.Marshal(roaJSON{k.prefix.String(), k.maxLen, k.asn, "synthetic"})
		if err != nil {
			return err
		}
		if i > 0 {
			bw.WriteByte(',')
		}
		bw.WriteString("\n")
		bw.Write(b)
	}
	bw.WriteString("\n]}\n")
	return bw.Flush()
}

type scenariosMeta struct {
	Generator  string         `json:"generator"`
	Seed       uint64         `json:"seed"`
	Files      []string       `json:"background_files"`
	Start      int64          `json:"background_start_unix"`
	End        int64          `json:"background_end_unix"`
	InjectFrom int64          `json:"inject_from_unix"`
	Instances  map[string]int `json:"instances"`
	Rows       map[string]int `json:"labelled_announcements"`
}

// writeScenarios writes the metadata and one instance per line.
func (r *Result) writeScenarios(w io.Writer) error {
	bw := bufio.NewWriter(w)
	meta, err := json.Marshal(scenariosMeta{"bgpsentry inject", r.seed, r.Background.Files, r.Summary.Start, r.Summary.End,
		r.Summary.InjectFrom, r.Summary.Instances, r.Summary.Rows})
	if err != nil {
		return err
	}
	bw.WriteString("{\"meta\":")
	bw.Write(meta)
	bw.WriteString(",\"scenarios\":[")
	for i, in := range r.Instances {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		if i > 0 {
			bw.WriteByte(',')
		}
		bw.WriteString("\n")
		bw.Write(b)
	}
	bw.WriteString("\n]}\n")
	return bw.Flush()
}
