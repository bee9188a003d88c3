package asorg

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// Org is an organisation of the dataset.
type Org struct {
	ID      string // CAIDA organisation id, such as "LPL-141-ARIN"
	Name    string
	Country string // ISO 3166 code as registered
	Source  string // the registry: ARIN, RIPE, APNIC, LACNIC, AFRINIC, JPNIC, ...
	ASNs    []uint32
}

// Stats describes what a load read.
type Stats struct {
	ASNs, Orgs int
	// Duplicates counts ASN records for an ASN seen before (the last
	// record wins); OrphanASNs counts ASNs whose organisation has no
	// record of its own (Org still reports its id).
	Duplicates, OrphanASNs int
	// Skipped counts JSON records of a type other than ASN and
	// Organization.
	Skipped int
}

// Table maps ASNs to organisations.
type Table struct {
	asnOrg map[uint32]uint32 // ASN -> index into orgs
	orgs   []Org
	stats  Stats
}

// Load reads an as-org2info file (see the package documentation).
func Load(name string) (*Table, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("asorg: %w", err)
	}
	defer f.Close()
	return Read(f, name)
}

// record holds the fields of either kind of JSON record.
type record struct {
	Type    string  `json:"type"`
	ASN     jsonASN `json:"asn"`
	OrgID   string  `json:"organizationId"`
	Name    string  `json:"name"`
	Country string  `json:"country"`
	Source  string  `json:"source"`
}

// jsonASN accepts "3356" (CAIDA's form) and 3356.
type jsonASN struct {
	n   uint32
	set bool
}

func (a *jsonASN) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	if len(b) >= 2 && b[0] == '"' && b[len(b)-1] == '"' {
		b = b[1 : len(b)-1]
	}
	n, ok := parseUint32(b)
	if !ok {
		return fmt.Errorf("bad asn %q", b)
	}
	a.n, a.set = n, true
	return nil
}

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
	return uint32(n), n <= 0xffffffff
}

// builder accumulates records.
type builder struct {
	t       *Table
	orgIdx  map[string]uint32
	defined []bool // per org: has its own Organization record
}

func (b *builder) org(id string) uint32 {
	if i, ok := b.orgIdx[id]; ok {
		return i
	}
	i := uint32(len(b.t.orgs))
	b.orgIdx[id] = i
	b.t.orgs = append(b.t.orgs, Org{ID: id})
	b.defined = append(b.defined, false)
	return i
}

func (b *builder) addASN(asn uint32, orgID string) {
	if _, dup := b.t.asnOrg[asn]; dup {
		b.t.stats.Duplicates++
	}
	b.t.asnOrg[asn] = b.org(orgID)
}

func (b *builder) addOrg(id, name, country, source string) {
	i := b.org(id)
	o := &b.t.orgs[i]
	o.Name, o.Country, o.Source = name, country, source
	b.defined[i] = true
}

// Pipe-separated record layouts, switched by "# format:" lines.
const (
	fmtNone = iota
	fmtASN  // aut|changed|aut_name|org_id|opaque_id|source
	fmtOrg  // org_id|changed|org_name|country|source
)

// Read reads an as-org2info file from r; name labels errors.
func Read(r io.Reader, name string) (*Table, error) {
	src, done, err := decompress(r, name)
	if err != nil {
		return nil, err
	}
	defer done()
	b := &builder{
		t:      &Table{asnOrg: map[uint32]uint32{}},
		orgIdx: map[string]uint32{},
	}
	sc := bufio.NewScanner(src)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	line, pipeFormat := 0, fmtNone
	fail := func(format string, a ...any) error {
		return &ParseError{File: name, Line: line, Err: fmt.Errorf(format, a...)}
	}
	for sc.Scan() {
		line++
		s := bytes.TrimSpace(sc.Bytes())
		switch {
		case len(s) == 0:
			continue
		case s[0] == '#':
			if f, ok := bytes.CutPrefix(s, []byte("# format:")); ok {
				switch string(bytes.TrimSpace(f)) {
				case "aut|changed|aut_name|org_id|opaque_id|source", "aut|changed|aut_name|org_id|source":
					pipeFormat = fmtASN
				case "org_id|changed|org_name|country|source":
					pipeFormat = fmtOrg
				default:
					return nil, fail("unknown record format %q", f)
				}
			}
			continue
		case s[0] == '{':
			var rec record
			if err := json.Unmarshal(s, &rec); err != nil {
				var se *json.SyntaxError
				if errors.As(err, &se) {
					return nil, fail("column %d: %v", se.Offset, err)
				}
				return nil, fail("%v", err)
			}
			switch rec.Type {
			case "ASN":
				if !rec.ASN.set {
					return nil, fail(`ASN record without "asn"`)
				}
				if rec.OrgID == "" {
					return nil, fail("AS%d has no organizationId", rec.ASN.n)
				}
				b.addASN(rec.ASN.n, rec.OrgID)
			case "Organization":
				if rec.OrgID == "" {
					return nil, fail("Organization record without organizationId")
				}
				b.addOrg(rec.OrgID, rec.Name, rec.Country, rec.Source)
			case "":
				return nil, fail(`record without "type"`)
			default:
				b.t.stats.Skipped++
			}
		default:
			if err := b.pipeRecord(string(s), pipeFormat); err != nil {
				return nil, fail("%v", err)
			}
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			line++
		}
		return nil, fail("%w", err)
	}
	b.finish()
	return b.t, nil
}

func (b *builder) pipeRecord(s string, format int) error {
	f := strings.Split(s, "|")
	switch format {
	case fmtASN:
		if len(f) != 6 && len(f) != 5 {
			return fmt.Errorf("ASN record has %d fields, want 6 (aut|changed|aut_name|org_id|opaque_id|source)", len(f))
		}
		asn, ok := parseUint32([]byte(f[0]))
		if !ok {
			return fmt.Errorf("bad asn %q", f[0])
		}
		if f[3] == "" {
			return fmt.Errorf("AS%d has no org_id", asn)
		}
		b.addASN(asn, f[3])
	case fmtOrg:
		if len(f) != 5 {
			return fmt.Errorf("organisation record has %d fields, want 5 (org_id|changed|org_name|country|source)", len(f))
		}
		if f[0] == "" {
			return errors.New("organisation record without org_id")
		}
		b.addOrg(f[0], f[2], f[3], f[4])
	default:
		return errors.New(`record before any "# format:" line and not JSON`)
	}
	return nil
}

func (b *builder) finish() {
	t := b.t
	for asn, i := range t.asnOrg {
		t.orgs[i].ASNs = append(t.orgs[i].ASNs, asn)
	}
	for i := range t.orgs {
		slices.Sort(t.orgs[i].ASNs)
		t.orgs[i].ASNs = slices.Clip(t.orgs[i].ASNs)
		if !b.defined[i] {
			t.stats.OrphanASNs += len(t.orgs[i].ASNs)
		}
	}
	t.stats.ASNs = len(t.asnOrg)
	t.stats.Orgs = len(t.orgs)
}

// Stats reports what the load read.
func (t *Table) Stats() Stats { return t.stats }

// Org returns the organisation id of asn, "" when the ASN is unknown.
func (t *Table) Org(asn uint32) string {
	if i, ok := t.asnOrg[asn]; ok {
		return t.orgs[i].ID
	}
	return ""
}

// Info returns the organisation of asn. Its ASNs slice is shared: do not
// modify it.
func (t *Table) Info(asn uint32) (Org, bool) {
	if i, ok := t.asnOrg[asn]; ok {
		return t.orgs[i], true
	}
	return Org{}, false
}

// Siblings reports whether a and b are held by the same organisation.
// Unknown ASNs are nobody's siblings; a known ASN is its own sibling.
func (t *Table) Siblings(a, b uint32) bool {
	i, ok := t.asnOrg[a]
	if !ok {
		return false
	}
	j, ok := t.asnOrg[b]
	return ok && i == j
}
