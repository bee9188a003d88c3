package bgpfeed

import "context"

// Source is a pull-based stream of Updates. Next returns io.EOF after the
// last Update. A Source that can acknowledge progress (Kafka) also
// implements Committer.
type Source interface {
	Next(ctx context.Context) (Update, error)
}

// Committer is implemented by Sources whose consumed position must be
// acknowledged once the effects of the Updates read so far are durable.
type Committer interface {
	Commit(ctx context.Context) error
}
