package rpki

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/netip"
	"slices"
	"strconv"

	"github.com/bgpsentry/bgpsentry/features/ptrie"
)

// VRP is one Validated ROA Payload: ASN may originate Prefix and its
// more-specifics up to MaxLength.
type VRP struct {
	Prefix    netip.Prefix
	MaxLength int
	ASN       uint32
	TA        string // trust anchor, such as "ripe"; may be empty
}

func (v VRP) String() string {
	return fmt.Sprintf("%v-%d AS%d", v.Prefix, v.MaxLength, v.ASN)
}

// Status is the outcome of route origin validation.
type Status uint8

// Validation states (RFC 6811 section 2, Invalid split by cause).
const (
	NotFound      Status = iota // no VRP covers the prefix
	Valid                       // a covering VRP has the origin and a long enough maxLength
	InvalidASN                  // covered, but no covering VRP has the origin AS
	InvalidLength               // a covering VRP has the origin AS, but the prefix is longer than its maxLength
)

func (s Status) String() string {
	switch s {
	case NotFound:
		return "not-found"
	case Valid:
		return "valid"
	case InvalidASN:
		return "invalid-asn"
	case InvalidLength:
		return "invalid-length"
	}
	return "status(" + strconv.Itoa(int(s)) + ")"
}

// Invalid reports whether s is one of the invalid states.
func (s Status) Invalid() bool { return s == InvalidASN || s == InvalidLength }

// vrp is a VRP without its prefix, as stored under the prefix.
type vrp struct {
	asn    uint32
	maxLen uint8
	ta     uint16 // index into Table.tas
}

// span locates a prefix's VRPs in Table.vrps.
type span struct{ start, n uint32 }

// Table is a set of VRPs indexed for route origin validation.
type Table struct {
	trie ptrie.Trie[span]
	vrps []vrp // grouped by prefix
	tas  []string
}

// Len is the number of distinct VRPs (prefix, maxLength, ASN).
func (t *Table) Len() int { return len(t.vrps) }

// Load reads a VRP JSON file (see the package documentation).
func Load(name string) (*Table, error) {
	data, err := readFile(name)
	if err != nil {
		return nil, err
	}
	return parse(data, name)
}

// Read reads VRP JSON from r; name labels errors.
func Read(r io.Reader, name string) (*Table, error) {
	data, err := readAll(r, name)
	if err != nil {
		return nil, err
	}
	return parse(data, name)
}

// vrpJSON is one element of "roas". MaxLength is a pointer to tell a
// missing maxLength from 0.
type vrpJSON struct {
	ASN       jsonASN `json:"asn"`
	Prefix    string  `json:"prefix"`
	MaxLength *int    `json:"maxLength"`
	TA        string  `json:"ta"`
}

// jsonASN decodes 13335, "13335" or "AS13335" without failing the whole
// decode, so that a bad ASN is reported with its element's line.
type jsonASN struct {
	n   uint32
	set bool
	err error
}

func (a *jsonASN) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	a.n, a.err = parseASN(b)
	a.set = a.err == nil
	return nil
}

type prefixedVRP struct {
	p netip.Prefix
	v vrp
}

// parse decodes the whole document in one json.Unmarshal (several times
// faster than streaming tokens) and, only when an element is bad, walks the
// tokens again to find the element's line.
func parse(data []byte, name string) (*Table, error) {
	var doc struct {
		Roas *[]vrpJSON `json:"roas"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, newLines(data).jsonErr(name, err, 0)
	}
	if doc.Roas == nil {
		return nil, &ParseError{File: name, Err: errors.New(`no "roas" array`)}
	}
	roas := *doc.Roas
	t := &Table{}
	taIndex := map[string]uint16{}
	all := make([]prefixedVRP, 0, len(roas))
	for i := range roas {
		e := &roas[i]
		p, v, err := e.convert()
		if err != nil {
			return nil, &ParseError{File: name, Line: elementLine(data, "roas", i), Err: fmt.Errorf("roas[%d]: %w", i, err)}
		}
		ta, ok := taIndex[e.TA]
		if !ok {
			if len(t.tas) > 0xffff {
				return nil, &ParseError{File: name, Line: elementLine(data, "roas", i), Err: errors.New("more than 65536 trust anchors")}
			}
			ta = uint16(len(t.tas))
			taIndex[e.TA] = ta
			t.tas = append(t.tas, e.TA)
		}
		v.ta = ta
		all = append(all, prefixedVRP{p, v})
	}
	t.build(all)
	return t, nil
}

// elementLine returns the line where element i of the array under the
// top-level key starts (of the top-level array when key is ""), or 0. It
// is the slow path for error messages; data is valid JSON.
func elementLine(data []byte, key string, i int) int {
	// encoding/json lets the last of duplicate keys win: find it.
	last := 0
	if key != "" {
		last = keyCount(data, key)
		if last == 0 {
			return 0
		}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if key != "" {
		if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
			return 0
		}
		for seen := 0; seen < last; {
			tok, err := dec.Token()
			if err != nil {
				return 0
			}
			if k, _ := tok.(string); k == key {
				if seen++; seen == last {
					break
				}
			}
			var skip json.RawMessage
			if dec.Decode(&skip) != nil {
				return 0
			}
		}
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('[') {
		return 0
	}
	for j := 0; dec.More(); j++ {
		if j == i {
			off := int(dec.InputOffset())
			// Skip the separator and white space before the element.
			for off < len(data) && bytes.IndexByte([]byte(", \t\r\n"), data[off]) >= 0 {
				off++
			}
			return newLines(data).at(int64(off))
		}
		var skip json.RawMessage
		if dec.Decode(&skip) != nil {
			return 0
		}
	}
	return 0
}

// keyCount counts the occurrences of key in the top-level object.
func keyCount(data []byte, key string) int {
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return 0
	}
	n := 0
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return n
		}
		if k, _ := tok.(string); k == key {
			n++
		}
		var skip json.RawMessage
		if dec.Decode(&skip) != nil {
			return n
		}
	}
	return n
}

func (e *vrpJSON) convert() (netip.Prefix, vrp, error) {
	if e.Prefix == "" {
		return netip.Prefix{}, vrp{}, errors.New(`missing "prefix"`)
	}
	p, err := netip.ParsePrefix(e.Prefix)
	if err != nil {
		return netip.Prefix{}, vrp{}, fmt.Errorf("bad prefix: %w", err)
	}
	if p != p.Masked() {
		return netip.Prefix{}, vrp{}, fmt.Errorf("prefix %s has host bits set", e.Prefix)
	}
	if p.Addr().Zone() != "" {
		return netip.Prefix{}, vrp{}, fmt.Errorf("prefix %s has a zone", e.Prefix)
	}
	if e.ASN.err != nil {
		return netip.Prefix{}, vrp{}, e.ASN.err
	}
	if !e.ASN.set {
		return netip.Prefix{}, vrp{}, errors.New(`missing "asn"`)
	}
	asn := e.ASN.n
	maxLen := p.Bits()
	if e.MaxLength != nil {
		maxLen = *e.MaxLength
	}
	if maxLen < p.Bits() || maxLen > p.Addr().BitLen() {
		return netip.Prefix{}, vrp{}, fmt.Errorf("maxLength %d outside %d..%d for %s", maxLen, p.Bits(), p.Addr().BitLen(), p)
	}
	return p, vrp{asn: asn, maxLen: uint8(maxLen)}, nil
}

// parseASN accepts the JSON values 13335, "13335" and "AS13335" (any
// case).
func parseASN(raw []byte) (uint32, error) {
	if len(raw) == 0 {
		return 0, errors.New(`missing "asn"`)
	}
	b := raw
	if b[0] == '"' {
		if bytes.IndexByte(b, '\\') >= 0 {
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return 0, fmt.Errorf("bad asn %s: %w", raw, err)
			}
			b = []byte(s)
		} else if len(b) >= 2 && b[len(b)-1] == '"' {
			b = b[1 : len(b)-1]
		}
		if len(b) > 2 && (b[0] == 'A' || b[0] == 'a') && (b[1] == 'S' || b[1] == 's') {
			b = b[2:]
		}
	}
	n, ok := parseUint32(b)
	if !ok {
		return 0, fmt.Errorf("bad asn %s", raw)
	}
	return n, nil
}

// parseUint32 parses a decimal uint32 without allocating.
func parseUint32(b []byte) (uint32, bool) {
	if len(b) == 0 || len(b) > 10 {
		return 0, false
	}
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	if n > 0xffffffff {
		return 0, false
	}
	return uint32(n), true
}

// build sorts, deduplicates (same prefix, ASN and maxLength from several
// trust anchors count once) and indexes the VRPs.
func (t *Table) build(all []prefixedVRP) {
	slices.SortStableFunc(all, func(a, b prefixedVRP) int {
		if c := a.p.Addr().Compare(b.p.Addr()); c != 0 {
			return c
		}
		return cmp.Or(cmp.Compare(a.p.Bits(), b.p.Bits()), cmp.Compare(a.v.asn, b.v.asn), cmp.Compare(a.v.maxLen, b.v.maxLen))
	})
	var n4, n6 int
	for i, e := range all {
		if i > 0 && all[i-1].p == e.p {
			continue
		}
		if e.p.Addr().Is4() {
			n4++
		} else {
			n6++
		}
	}
	t.trie.Grow(n4, n6)
	t.vrps = make([]vrp, 0, len(all))
	for i := 0; i < len(all); {
		j := i
		start := len(t.vrps)
		for ; j < len(all) && all[j].p == all[i].p; j++ {
			if j > i && all[j].v.asn == all[j-1].v.asn && all[j].v.maxLen == all[j-1].v.maxLen {
				continue // duplicate from another trust anchor
			}
			t.vrps = append(t.vrps, all[j].v)
		}
		_ = t.trie.Insert(all[i].p, span{uint32(start), uint32(len(t.vrps) - start)})
		i = j
	}
}

// Validate performs route origin validation of a route for prefix
// originated by origin (RFC 6811). An invalid prefix is NotFound.
func (t *Table) Validate(prefix netip.Prefix, origin uint32) Status {
	if !prefix.IsValid() {
		return NotFound
	}
	covered, lengthOnly := false, false
	for _, s := range t.trie.Covering(prefix) {
		covered = true
		for _, v := range t.vrps[s.start : s.start+s.n] {
			if v.asn == 0 || v.asn != origin {
				continue
			}
			if prefix.Bits() <= int(v.maxLen) {
				return Valid
			}
			lengthOnly = true
		}
	}
	switch {
	case !covered:
		return NotFound
	case lengthOnly:
		return InvalidLength
	}
	return InvalidASN
}

// Covering returns the VRPs whose prefix covers prefix, shortest prefix
// first: the evidence behind a Validate result.
func (t *Table) Covering(prefix netip.Prefix) []VRP {
	var out []VRP
	for p, s := range t.trie.Covering(prefix) {
		for _, v := range t.vrps[s.start : s.start+s.n] {
			out = append(out, VRP{Prefix: p, MaxLength: int(v.maxLen), ASN: v.asn, TA: t.tas[v.ta]})
		}
	}
	return out
}

// All yields every VRP, IPv4 first, in prefix order.
func (t *Table) All() iter.Seq[VRP] {
	return func(yield func(VRP) bool) {
		for p, s := range t.trie.All() {
			for _, v := range t.vrps[s.start : s.start+s.n] {
				if !yield(VRP{Prefix: p, MaxLength: int(v.maxLen), ASN: v.asn, TA: t.tas[v.ta]}) {
					return
				}
			}
		}
	}
}
