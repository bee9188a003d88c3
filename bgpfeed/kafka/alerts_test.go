package kafka_test

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	kgo "github.com/segmentio/kafka-go"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/bgpsentry/bgpsentry/bgpfeed/kafka"
	pb "github.com/bgpsentry/bgpsentry/proto/bgpsentry/v1"
)

// Alert events are keyed by alert id: all events of an alert on one
// partition, in order, with the sequence in a header.
func TestAlertWriter(t *testing.T) {
	const partitions = 3
	ctx := testContext(t, 60*time.Second)
	topic := uniqueTopic(t)
	w, err := kafka.NewAlertWriter(ctx, kafka.AlertWriterConfig{
		Config: kafka.Config{Brokers: brokers(t), Partitions: partitions},
		Topic:  topic,
	})
	if err != nil {
		t.Fatalf("NewAlertWriter: %v", err)
	}
	defer w.Close()

	t0 := time.Date(2015, 4, 1, 0, 0, 4, 0, time.UTC)
	var events []*pb.AlertEvent
	seq := uint64(0)
	for round, state := range []pb.AlertState{pb.AlertState_OPEN, pb.AlertState_UPDATE, pb.AlertState_RESOLVED} {
		for a := range 8 {
			seq++
			events = append(events, &pb.AlertEvent{
				Id: fmt.Sprintf("alert-%d", a), Sequence: seq, State: state,
				Type: pb.AlertType_SUBPREFIX_HIJACK, Prefix: "193.0.14.0/24", ExpectedPrefix: "193.0.0.0/16",
				ExpectedOrigins: []uint32{3333}, SuspectAsn: 64512 + uint32(a), Confidence: 0.9,
				FirstSeen: timestamppb.New(t0), LastSeen: timestamppb.New(t0.Add(time.Duration(round) * time.Minute)),
				PeerCount: uint32(round + 1), Announcements: uint64(round + 1),
			})
		}
	}
	if err := w.Write(ctx, events[:10]...); err != nil {
		t.Fatalf("Write: %v", err)
	}
	if err := w.Write(ctx, events[10:]...); err != nil {
		t.Fatalf("Write: %v", err)
	}
	if w.Written() != uint64(len(events)) {
		t.Errorf("Written = %d", w.Written())
	}
	if err := w.Write(ctx, &pb.AlertEvent{Sequence: 99}); err == nil {
		t.Error("an event without id was written")
	}

	byID := map[string][]*pb.AlertEvent{}
	for _, ev := range events {
		byID[ev.Id] = append(byID[ev.Id], ev)
	}
	idPart := map[string]int{}
	gotByID := map[string][]*pb.AlertEvent{}
	n := 0
	for p := range partitions {
		r := kgo.NewReader(kgo.ReaderConfig{Brokers: brokers(t), Topic: topic, Partition: p, MaxWait: 100 * time.Millisecond})
		end := lastOffsets(t, ctx, topic, partitions)[p]
		for off := int64(0); off < end; off++ {
			m, err := r.FetchMessage(ctx)
			if err != nil {
				t.Fatalf("partition %d: %v", p, err)
			}
			ev, err := kafka.UnmarshalAlert(m.Value)
			if err != nil {
				t.Fatalf("partition %d offset %d: %v", p, m.Offset, err)
			}
			if string(m.Key) != ev.Id {
				t.Errorf("key %q for event of alert %q", m.Key, ev.Id)
			}
			var hdr string
			for _, h := range m.Headers {
				if h.Key == kafka.HeaderSequence {
					hdr = string(h.Value)
				}
			}
			if hdr != strconv.FormatUint(ev.Sequence, 10) {
				t.Errorf("sequence header %q for event %d", hdr, ev.Sequence)
			}
			if q, ok := idPart[ev.Id]; ok && q != p {
				t.Errorf("alert %s on partitions %d and %d", ev.Id, q, p)
			}
			idPart[ev.Id] = p
			gotByID[ev.Id] = append(gotByID[ev.Id], ev)
			n++
		}
		r.Close()
	}
	if n != len(events) {
		t.Fatalf("read %d events, want %d", n, len(events))
	}
	for id, want := range byID {
		got := gotByID[id]
		if len(got) != len(want) {
			t.Fatalf("alert %s: %d events, want %d", id, len(got), len(want))
		}
		for i := range want {
			if !proto.Equal(got[i], want[i]) {
				t.Errorf("alert %s event %d:\n got %v\nwant %v", id, i, got[i], want[i])
			}
		}
	}
	parts := map[int]bool{}
	for _, p := range idPart {
		parts[p] = true
	}
	t.Logf("%d events of %d alerts on %d partitions", n, len(byID), len(parts))
}
