package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// progressBar redraws a one-line bar on a terminal every 200 ms until
// stopped. fn returns work done and total (bytes) and a status text.
type progressBar struct {
	w    io.Writer
	fn   func() (done, total int64, status string)
	stop chan struct{}
	wg   sync.WaitGroup
}

func startProgress(w io.Writer, fn func() (int64, int64, string)) *progressBar {
	p := &progressBar{w: w, fn: fn, stop: make(chan struct{})}
	if !isTerminal(w) {
		return p
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		start := time.Now()
		for {
			select {
			case <-p.stop:
				fmt.Fprint(p.w, "\r\033[K")
				return
			case <-t.C:
				done, total, status := p.fn()
				frac := 0.0
				if total > 0 {
					frac = min(float64(done)/float64(total), 1)
				}
				const width = 30
				n := int(frac * width)
				eta := ""
				if frac > 0.01 {
					el := time.Since(start)
					eta = " eta " + (time.Duration(float64(el)/frac) - el).Round(time.Second).String()
				}
				fmt.Fprintf(p.w, "\r\033[K[%s%s] %3.0f%%%s %s", strings.Repeat("=", n), strings.Repeat(" ", width-n), frac*100, eta, status)
			}
		}
	}()
	return p
}

func (p *progressBar) Stop() {
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	p.wg.Wait()
}
