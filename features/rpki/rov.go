package rpki

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
)

// Deployers is a set of ASNs measured to perform route origin validation
// (drop RPKI-invalid routes), such as the merged APNIC / Cloudflare
// isbgpsafeyet / RoVista list of the "stealthy BGP hijacking" study. The
// file is a JSON array of ASNs, each a number, "13335" or "AS13335":
//
//	["10003", "10013", "AS13335", 174]
type Deployers struct {
	asns []uint32 // sorted, unique
}

// LoadDeployers reads a ROV deployment list file (plain or gzip).
func LoadDeployers(name string) (*Deployers, error) {
	data, err := readFile(name)
	if err != nil {
		return nil, err
	}
	return parseDeployers(data, name)
}

// ReadDeployers reads a ROV deployment list from r; name labels errors.
func ReadDeployers(r io.Reader, name string) (*Deployers, error) {
	data, err := readAll(r, name)
	if err != nil {
		return nil, err
	}
	return parseDeployers(data, name)
}

func parseDeployers(data []byte, name string) (*Deployers, error) {
	var list []jsonASN
	if err := json.Unmarshal(data, &list); err != nil {
		return nil, newLines(data).jsonErr(name, err, 0)
	}
	d := &Deployers{asns: make([]uint32, 0, len(list))}
	for i, a := range list {
		if a.err == nil && !a.set {
			a.err = errors.New("null")
		}
		if a.err != nil {
			return nil, &ParseError{File: name, Line: elementLine(data, "", i), Err: fmt.Errorf("element %d: %w", i, a.err)}
		}
		d.asns = append(d.asns, a.n)
	}
	slices.Sort(d.asns)
	d.asns = slices.Compact(d.asns)
	return d, nil
}

// Deploys reports whether asn is on the list.
func (d *Deployers) Deploys(asn uint32) bool {
	_, ok := slices.BinarySearch(d.asns, asn)
	return ok
}

// Len is the number of distinct ASNs on the list.
func (d *Deployers) Len() int { return len(d.asns) }
