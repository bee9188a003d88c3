package kafka

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	kgo "github.com/segmentio/kafka-go"

	"github.com/bgpsentry/bgpsentry/bgpfeed"
)

// ConsumerConfig configures a Consumer.
type ConsumerConfig struct {
	Config
	Topic   string // default DefaultUpdatesTopic
	GroupID string // consumer group, default DefaultGroup
	// StartAtEnd makes a partition that has no committed offset start at
	// its end (new records only) instead of its beginning.
	StartAtEnd bool
	// Group membership: a member that sends no heartbeat for
	// SessionTimeout (default 10s; a broker accepts 6s to 30min by
	// default) is dead and its partitions go to the others; members have
	// RebalanceTimeout (default 30s) to rejoin in a rebalance.
	SessionTimeout    time.Duration
	HeartbeatInterval time.Duration // default 1s
	RebalanceTimeout  time.Duration
	// MaxWait is the longest a fetch waits for new records (default
	// 250ms); MaxBytes bounds a fetch per partition (default 1 MiB).
	MaxWait  time.Duration
	MaxBytes int
	// Buffer is the number of fetched records queued ahead of Next
	// (default 4096).
	Buffer int
	// Interner shares the decoded AS paths (a new one when nil).
	Interner *bgpfeed.Interner
	// OnAssign is called at the start of every group generation, before
	// any record of it is returned, with the partitions this member owns
	// now. It runs on the group's goroutine: it must return promptly (a
	// slow one delays the group's rebalance).
	OnAssign func(Assignment)
}

// Assignment is the set of partitions a Consumer owns in one generation of
// its group.
type Assignment struct {
	Generation int32
	Topic      string
	Partitions []int // owned now, sorted
	Added      []int // owned now, not in the previous generation
	Revoked    []int // owned in the previous generation, not now
}

// Record is an Update with its place in the topic.
type Record struct {
	Update    bgpfeed.Update
	Partition int
	Offset    int64
	Key       []byte
	// Time is the record's Kafka timestamp: when the producer wrote it
	// (CreateTime, the topic default), or when the broker appended it
	// (LogAppendTime).
	Time time.Time
	// Broadcast marks a copy of a state change that the Producer wrote to
	// every partition.
	Broadcast bool
}

// ConsumerStats are a Consumer's counters.
type ConsumerStats struct {
	Records     uint64 // Updates returned
	Corrupt     uint64 // records skipped because they do not decode
	Stale       uint64 // fetched records dropped by a rebalance (read again by the partition's owner)
	Commits     uint64 // successful commits
	Generations uint64 // group generations joined
	FetchErrors uint64
}

// Consumer reads Updates from the updates topic as a member of a consumer
// group; it is a bgpfeed.Source and a bgpfeed.Committer. Next and
// NextRecord are for one goroutine; Commit, Assignment, Stats and Close
// may be called from any.
//
// Delivery is at-least-once. Commit commits, per partition, the offset
// after the last record Next returned (records skipped as corrupt
// included); call it only once the effects of those Updates are durable.
// When the group rebalances, a partition this member keeps continues where
// Next left off, and what was returned but not committed is still
// committed by the next Commit; a partition that moves to another member
// is read by it from the last commit, so the uncommitted part is read
// twice (never lost). A member that dies is noticed after SessionTimeout.
//
// Each partition is read by its own kafka-go partition reader; the group
// protocol (JoinGroup, SyncGroup, heartbeats, commits) is kafka-go's
// ConsumerGroup, with the classic protocol.
type Consumer struct {
	cfg      ConsumerConfig
	log      *slog.Logger
	cg       *kgo.ConsumerGroup
	interner *bgpfeed.Interner
	recs     chan fetched
	closing  chan struct{} // closed by Close
	done     chan struct{} // closed when run returns

	mu        sync.Mutex      // guards the fields below
	gen       *kgo.Generation // the live generation; nil between generations
	genID     int32           // the latest generation (records of others are stale)
	genCh     chan struct{}   // closed when the next generation starts
	owned     map[int]bool
	returned  map[int]int64 // partition -> offset after the last record returned
	committed map[int]int64 // partition -> last offset committed
	assign    Assignment
	closed    bool

	records, corrupt, stale, commits, generations, fetchErrors atomic.Uint64
}

// fetched is a record read by a partition reader of one generation.
type fetched struct {
	gen int32
	msg kgo.Message
}

// NewConsumer joins the group and starts reading in the background; Next
// returns the first records once the group assigned partitions. It fails
// with ErrUnreachable when no broker answers, and when the topic does not
// exist.
func NewConsumer(ctx context.Context, cfg ConsumerConfig) (*Consumer, error) {
	c, err := cfg.Config.withDefaults()
	if err != nil {
		return nil, err
	}
	cfg.Config = c
	if cfg.Topic == "" {
		cfg.Topic = DefaultUpdatesTopic
	}
	if cfg.GroupID == "" {
		cfg.GroupID = DefaultGroup
	}
	if cfg.SessionTimeout <= 0 {
		cfg.SessionTimeout = 10 * time.Second
	}
	if cfg.HeartbeatInterval <= 0 {
		cfg.HeartbeatInterval = time.Second
	}
	if cfg.RebalanceTimeout <= 0 {
		cfg.RebalanceTimeout = 30 * time.Second
	}
	if cfg.MaxWait <= 0 {
		cfg.MaxWait = 250 * time.Millisecond
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = 1 << 20
	}
	if cfg.Buffer <= 0 {
		cfg.Buffer = 4096
	}
	if cfg.Interner == nil {
		cfg.Interner = bgpfeed.NewInterner(0)
	}
	// Check the brokers and the topic first: kafka-go's group would retry
	// a missing broker or topic forever, silently.
	if _, err := freshPartitions(ctx, &cfg.Config, cfg.Topic); err != nil {
		return nil, err
	}
	log := cfg.Logger.With("stage", "kafka-consumer", logTopic, cfg.Topic, logGroup, cfg.GroupID)
	start := kgo.FirstOffset
	if cfg.StartAtEnd {
		start = kgo.LastOffset
	}
	cg, err := kgo.NewConsumerGroup(kgo.ConsumerGroupConfig{
		ID:                    cfg.GroupID,
		Brokers:               cfg.Brokers,
		Dialer:                cfg.dialer(),
		Topics:                []string{cfg.Topic},
		HeartbeatInterval:     cfg.HeartbeatInterval,
		SessionTimeout:        cfg.SessionTimeout,
		RebalanceTimeout:      cfg.RebalanceTimeout,
		WatchPartitionChanges: true,
		JoinGroupBackoff:      time.Second,
		StartOffset:           start,
		Timeout:               cfg.DialTimeout,
		Logger:                kafkaLogger(log, slog.LevelDebug),
		ErrorLogger:           kafkaLogger(log, slog.LevelWarn),
	})
	if err != nil {
		return nil, fmt.Errorf("%w: consumer group: %w", ErrConfig, err)
	}
	cons := &Consumer{
		cfg:       cfg,
		log:       log,
		cg:        cg,
		interner:  cfg.Interner,
		recs:      make(chan fetched, cfg.Buffer),
		closing:   make(chan struct{}),
		done:      make(chan struct{}),
		genCh:     make(chan struct{}),
		owned:     map[int]bool{},
		returned:  map[int]int64{},
		committed: map[int]int64{},
		genID:     -1,
	}
	go cons.run()
	return cons, nil
}

// run follows the group's generations until Close.
func (c *Consumer) run() {
	defer close(c.done)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-c.closing:
			cancel()
		case <-ctx.Done():
		}
	}()
	for {
		gen, err := c.cg.Next(ctx)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, kgo.ErrGroupClosed) {
				return
			}
			// kafka-go retries joining on its own; say why it had to.
			c.log.Warn("kafka: consumer group", logErr, err)
			continue
		}
		c.startGeneration(gen)
	}
}

func (c *Consumer) startGeneration(gen *kgo.Generation) {
	c.generations.Add(1)
	assigned := gen.Assignments[c.cfg.Topic]
	owned := make(map[int]bool, len(assigned))
	starts := make(map[int]int64, len(assigned))

	c.mu.Lock()
	prev := c.owned
	for _, a := range assigned {
		owned[a.ID] = true
	}
	// Progress survives only on partitions owned without a break: another
	// member may have read (and committed) one that was away.
	for p := range c.returned {
		if !owned[p] || !prev[p] {
			delete(c.returned, p)
			delete(c.committed, p)
		}
	}
	for _, a := range assigned {
		off := a.Offset
		if r, ok := c.returned[a.ID]; ok && r > off {
			off = r // continue after what Next returned; Commit commits it later
		}
		starts[a.ID] = off
	}
	as := Assignment{Generation: gen.ID, Topic: c.cfg.Topic, Partitions: slices.Sorted(maps.Keys(owned))}
	for _, p := range as.Partitions {
		if !prev[p] {
			as.Added = append(as.Added, p)
		}
	}
	for p := range prev {
		if !owned[p] {
			as.Revoked = append(as.Revoked, p)
		}
	}
	slices.Sort(as.Revoked)
	c.gen, c.genID, c.owned, c.assign = gen, gen.ID, owned, as
	close(c.genCh)
	c.genCh = make(chan struct{})
	c.mu.Unlock()

	c.log.Info("kafka: partitions assigned", "generation", gen.ID, "partitions", as.Partitions, "added", as.Added, "revoked", as.Revoked)
	if c.cfg.OnAssign != nil {
		c.cfg.OnAssign(as)
	}
	for p, off := range starts {
		gen.Start(func(ctx context.Context) { c.readPartition(ctx, gen.ID, p, off) })
	}
	gen.Start(func(ctx context.Context) {
		<-ctx.Done()
		c.mu.Lock()
		if c.gen == gen {
			c.gen = nil
		}
		c.mu.Unlock()
	})
}

// readPartition feeds the records of one partition, from offset on, to
// Next until the generation ends. It must not return before: a function
// started on a generation that returns ends the generation.
func (c *Consumer) readPartition(ctx context.Context, gen int32, partition int, offset int64) {
	log := c.log.With(logPartition, partition)
	r := kgo.NewReader(kgo.ReaderConfig{
		Brokers:        c.cfg.Brokers,
		Topic:          c.cfg.Topic,
		Partition:      partition,
		Dialer:         c.cfg.dialer(),
		MinBytes:       1,
		MaxBytes:       c.cfg.MaxBytes,
		MaxWait:        c.cfg.MaxWait,
		ReadBackoffMin: 50 * time.Millisecond,
		ReadBackoffMax: time.Second,
		Logger:         kafkaLogger(log, slog.LevelDebug),
		ErrorLogger:    kafkaLogger(log, slog.LevelWarn),
	})
	defer r.Close()
	if err := r.SetOffset(offset); err != nil {
		log.Error("kafka: set offset", logOffset, offset, logErr, err)
		<-ctx.Done()
		return
	}
	for {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			c.fetchErrors.Add(1)
			log.Warn("kafka: fetch", logErr, err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(200 * time.Millisecond):
			}
			continue
		}
		select {
		case c.recs <- fetched{gen: gen, msg: m}:
		case <-ctx.Done():
			return
		}
	}
}

// Next returns the next Update (see NextRecord).
func (c *Consumer) Next(ctx context.Context) (bgpfeed.Update, error) {
	r, err := c.NextRecord(ctx)
	return r.Update, err
}

// NextRecord returns the next Update with its partition and offset,
// waiting for one. Records that do not decode are skipped (counted in
// Stats.Corrupt, logged) and count as read for Commit. It returns io.EOF
// after Close.
func (c *Consumer) NextRecord(ctx context.Context) (Record, error) {
	for {
		var f fetched
		select {
		case <-ctx.Done():
			return Record{}, fmt.Errorf("kafka: next: %w", ctx.Err())
		case <-c.closing:
			return Record{}, io.EOF
		case f = <-c.recs:
		}
		p := f.msg.Partition
		c.mu.Lock()
		if f.gen != c.genID || !c.owned[p] {
			// Fetched for a generation that is over: the partition is
			// read again from its start offset in the new one.
			c.mu.Unlock()
			c.stale.Add(1)
			continue
		}
		if next := f.msg.Offset + 1; next > c.returned[p] {
			c.returned[p] = next
		}
		c.mu.Unlock()

		u, err := bgpfeed.UnmarshalUpdate(f.msg.Value, c.interner)
		if err != nil {
			c.corrupt.Add(1)
			c.log.Warn("kafka: skipped a record that is not an update", logPartition, p, logOffset, f.msg.Offset, "bytes", len(f.msg.Value), logErr, err)
			continue
		}
		c.records.Add(1)
		rec := Record{Update: u, Partition: p, Offset: f.msg.Offset, Key: f.msg.Key, Time: f.msg.Time}
		for _, h := range f.msg.Headers {
			if h.Key == HeaderPartition {
				rec.Broadcast = string(h.Value) == strconv.Itoa(p)
			}
		}
		return rec, nil
	}
}

// Commit commits, for every partition this member owns, the offset after
// the last record Next returned. During a rebalance it waits for the next
// generation (until ctx is done) and then commits for the partitions still
// owned; progress on partitions that moved away is dropped (their new
// owner reads them again from the last commit).
func (c *Consumer) Commit(ctx context.Context) error {
	for {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return ErrClosed
		}
		gen, next := c.gen, c.genCh
		offsets := map[int]int64{}
		for p, off := range c.returned {
			if c.committed[p] != off {
				offsets[p] = off
			}
		}
		c.mu.Unlock()
		if len(offsets) == 0 {
			return nil
		}
		if gen != nil {
			err := gen.CommitOffsets(map[string]map[int]int64{c.cfg.Topic: offsets})
			if err == nil {
				c.mu.Lock()
				for p, off := range offsets {
					if _, ok := c.returned[p]; ok && off > c.committed[p] {
						c.committed[p] = off
					}
				}
				c.mu.Unlock()
				c.commits.Add(1)
				return nil
			}
			c.mu.Lock()
			ended := c.gen != gen
			c.mu.Unlock()
			if !ended && !rebalancing(err) {
				return fmt.Errorf("kafka: commit: %w", brokerErr(ctx, &c.cfg.Config, "commit offsets", err))
			}
			c.log.Info("kafka: commit waits for the next generation", "generation", gen.ID, logErr, err)
		}
		select {
		case <-next:
		case <-ctx.Done():
			return fmt.Errorf("kafka: commit: waiting for the group to rebalance: %w", ctx.Err())
		case <-c.closing:
			return ErrClosed
		}
	}
}

// rebalancing reports a commit error that means the generation is over.
func rebalancing(err error) bool {
	return errors.Is(err, kgo.RebalanceInProgress) || errors.Is(err, kgo.IllegalGeneration) ||
		errors.Is(err, kgo.UnknownMemberId) || errors.Is(err, kgo.NotCoordinatorForGroup)
}

// Assignment returns the partitions owned in the latest generation.
func (c *Consumer) Assignment() Assignment {
	c.mu.Lock()
	defer c.mu.Unlock()
	a := c.assign
	a.Partitions = slices.Clone(a.Partitions)
	a.Added = slices.Clone(a.Added)
	a.Revoked = slices.Clone(a.Revoked)
	return a
}

// Stats returns the counters.
func (c *Consumer) Stats() ConsumerStats {
	return ConsumerStats{
		Records:     c.records.Load(),
		Corrupt:     c.corrupt.Load(),
		Stale:       c.stale.Load(),
		Commits:     c.commits.Load(),
		Generations: c.generations.Load(),
		FetchErrors: c.fetchErrors.Load(),
	}
}

// Close leaves the group (its partitions go to the other members at once)
// without committing: commit first what is durable. Next returns io.EOF
// afterwards.
func (c *Consumer) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	close(c.closing)
	c.mu.Unlock()
	err := c.cg.Close()
	<-c.done
	if err != nil {
		return fmt.Errorf("kafka: close consumer: %w", err)
	}
	return nil
}

var (
	_ bgpfeed.Source    = (*Consumer)(nil)
	_ bgpfeed.Committer = (*Consumer)(nil)
)
