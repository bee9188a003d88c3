package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/bgpsentry/bgpsentry/bgpfeed/kafka"
	pb "github.com/bgpsentry/bgpsentry/proto/bgpsentry/v1"
)

// TestServeKafkaAlerts: serve with a real broker. The replay goes through
// bgp.updates (the forwarder, then the consumer group) and the alert
// events reach bgp.alerts carrying the same ids, sequences (the cursor,
// also in the record header) and states as the gRPC service, keyed by
// event id, in order.
func TestServeKafkaAlerts(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: needs a Kafka broker")
	}
	broker := kafkaBroker(t)
	sc := injectScenario(t)
	updates, alerts := testTopic(t)+".updates", testTopic(t)+".alerts"
	grpcAddr := freeAddr(t)
	srv := startServe(t, "--config", writeThresholds(t, "subprefix_hijack: 0.98"), "--bgp.listen", "", "--grpc.listen", grpcAddr,
		"--kafka.brokers", broker, "--kafka.partitions", "1", "--kafka.topic.updates", updates,
		"--kafka.topic.alerts", alerts, "--kafka.group", testTopic(t), "--kafka.commit-interval", "100ms",
		"--asrel", sc.rel, "--rpki", sc.vrps, "--warmup", "1m", "--min-peers", "1",
		"--replay", rrc06, "--replay", sc.injected)
	cc, err := grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	client := pb.NewAlertServiceClient(cc)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// Every update through Kafka and back: the sub-prefix hijack of the
	// scenario appears, then the event count settles.
	var listed []*pb.AlertEvent
	stable := 0
	waitFor(t, "the alert events to settle", 90*time.Second, func() bool {
		resp, err := client.ListAlerts(ctx, &pb.ListAlertsRequest{PageSize: 1000})
		if status.Code(err) == codes.Unavailable {
			return false // serve is still starting
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.GetEvents()) > 0 && len(resp.GetEvents()) == len(listed) && strings.Contains(srv.stderr.String(), "replay finished") {
			stable++
		} else {
			stable = 0
		}
		listed = resp.GetEvents()
		if stable < 25 { // 0.5 s without a new event
			return false
		}
		return slices.ContainsFunc(listed, func(e *pb.AlertEvent) bool {
			return e.GetType() == pb.AlertType_SUBPREFIX_HIJACK && e.GetPrefix() == "105.96.2.0/24" && e.GetSuspectAsn() == 39913
		})
	})
	msgs := readTopic(t, broker, alerts, len(listed))
	if end := topicEnd(t, broker, alerts); end != int64(len(listed)) {
		t.Errorf("%s holds %d records, gRPC lists %d events", alerts, end, len(listed))
	}
	for i, m := range msgs {
		ev, err := kafka.UnmarshalAlert(m.Value)
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		want := listed[i]
		if string(m.Key) != want.GetId() || ev.GetId() != want.GetId() || ev.GetSequence() != want.GetSequence() || ev.GetState() != want.GetState() {
			t.Errorf("record %d: key %s, event %s/%d %v; gRPC has %s/%d %v", i, m.Key, ev.GetId(), ev.GetSequence(), ev.GetState(),
				want.GetId(), want.GetSequence(), want.GetState())
		}
		var hdr string
		for _, h := range m.Headers {
			if h.Key == kafka.HeaderSequence {
				hdr = string(h.Value)
			}
		}
		if hdr != fmt.Sprint(want.GetSequence()) {
			t.Errorf("record %d: sequence header %q, want %d", i, hdr, want.GetSequence())
		}
	}
	if !strings.Contains(srv.stderr.String(), "Kafka updates consumer") || !strings.Contains(srv.stderr.String(), "Kafka partitions assigned") {
		t.Errorf("serve did not consume from Kafka:\n%s", srv.stderr.String())
	}
	srv.stop(t)
}
