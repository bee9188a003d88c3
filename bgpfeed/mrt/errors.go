package mrt

import (
	"errors"
	"fmt"
)

// Sentinel errors, checked with errors.Is.
var (
	// ErrNoInput is returned when the paths given name no file.
	ErrNoInput = errors.New("mrt: no input files")
	// ErrNotMRT is returned for a file whose first record is not MRT.
	ErrNotMRT = errors.New("mrt: not an MRT file")
	// ErrMalformed wraps every per-record decoding problem.
	ErrMalformed = errors.New("mrt: malformed record")
	// ErrTruncated wraps a stream that ends inside a record or whose
	// compression stream is cut off or corrupt.
	ErrTruncated = errors.New("mrt: truncated input")
)

// Skip kinds, the keys of Stats.Skipped.
const (
	SkipTruncated          = "truncated"           // input ends inside a record or compressed stream
	SkipCorruptStream      = "corrupt-stream"      // decompressor error other than truncation
	SkipBadLength          = "bad-record-length"   // header length impossible: the rest of the file is unreadable
	SkipUnsupportedType    = "unsupported-type"    // MRT type/subtype this reader does not decode
	SkipBGP4MPHeader       = "bad-bgp4mp-header"   // BGP4MP peer header malformed
	SkipBGPMessage         = "bad-bgp-message"     // BGP message malformed (GoBGP refused it)
	SkipAttribute          = "bad-path-attribute"  // attributes malformed: RFC 7606 treat-as-withdraw
	SkipAttributeDiscarded = "attribute-discarded" // an optional attribute was malformed and dropped (RFC 7606); the route is kept
	SkipRIB                = "bad-rib-record"      // TABLE_DUMP(_V2) record malformed
	SkipPeerIndex          = "bad-peer-index"      // PEER_INDEX_TABLE malformed, or a RIB entry naming no peer
	SkipDecoderPanic       = "decoder-panic"       // the decoder panicked on this record (a bug, recovered)
	SkipNotMRT             = "not-mrt"             // a file found in a directory that is not MRT
)

// RecordError is one skipped record: where it was and why.
type RecordError struct {
	File   string
	Offset int64 // byte offset of the record in the decompressed stream
	Kind   string
	Err    error
}

func (e *RecordError) Error() string {
	return fmt.Sprintf("mrt: %s: offset %d: %s: %v", e.File, e.Offset, e.Kind, e.Err)
}

// Unwrap returns ErrTruncated for truncation kinds, ErrMalformed otherwise.
func (e *RecordError) Unwrap() []error {
	if e.Kind == SkipTruncated || e.Kind == SkipCorruptStream {
		return []error{ErrTruncated, e.Err}
	}
	return []error{ErrMalformed, e.Err}
}
