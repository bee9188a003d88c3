package alertsvc_test

import (
	"context"
	"log"
	"net"
	"os/signal"
	"syscall"
	"time"

	"github.com/bgpsentry/bgpsentry/classifier"
	"github.com/bgpsentry/bgpsentry/classifier/alertsvc"
)

// The wiring of `bgpsentry serve`: the Eventer publishes into a Broker, a
// Server puts it behind gRPC with TLS and tokens, and a signal stops it
// gracefully.
func Example() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	var restored uint64 // the Eventer's sequence from the state snapshot; 0 on a first start
	broker := alertsvc.NewBroker(alertsvc.BrokerConfig{StartSequence: restored})
	ev := classifier.NewEventer(classifier.EventerConfig{}, broker.Publish)
	ev.SetSequence(restored)
	_ = ev // ev.Add and ev.Route as the classifier scores updates

	tlsCfg, err := alertsvc.ServerTLS("server.pem", "server-key.pem", "" /* client CA for mTLS */)
	if err != nil {
		log.Print(err)
		return
	}
	tokens, err := alertsvc.LoadTokens("", alertsvc.TokenEnv)
	if err != nil {
		log.Print(err)
		return
	}
	srv, err := alertsvc.New(broker, alertsvc.Config{TLS: tlsCfg, Tokens: tokens})
	if err != nil {
		log.Print(err)
		return
	}
	lis, err := net.Listen("tcp", "127.0.0.1:50051")
	if err != nil {
		log.Print(err)
		return
	}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	if err := srv.Serve(lis); err != nil {
		log.Print(err)
	}
}
