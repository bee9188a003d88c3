package bgpfeed

import (
	"context"
	"errors"
	"io"
)

// Source is a pull-based stream of Updates. Next returns io.EOF after the
// last Update. A Source that can acknowledge progress (Kafka) also
// implements Committer.
type Source interface {
	Next(ctx context.Context) (Update, error)
}

// ReadAll reads src to its end (io.EOF) and returns its Updates, or the
// first other error with those read before it.
func ReadAll(ctx context.Context, src Source) ([]Update, error) {
	var out []Update
	for {
		u, err := src.Next(ctx)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, u)
	}
}

// Committer is implemented by Sources whose consumed position must be
// acknowledged once the effects of the Updates read so far are durable.
type Committer interface {
	Commit(ctx context.Context) error
}
