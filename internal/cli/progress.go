package cli

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/dingbook/dingbook"
)

// rowProgress shows a long export or convert on a terminal: rows read and
// written, the rate and the time left, redrawn in place on stderr every
// quarter second, never wider than the terminal. It is nil (silent) when
// stderr is not a terminal or with --json; its methods accept nil.
type rowProgress struct {
	w     io.Writer
	width func() int
	now   func() time.Time

	people, rows atomic.Int64

	stopc chan struct{}
	wg    sync.WaitGroup
}

func newRowProgress(env *Env, jsonOut bool) *rowProgress {
	if !env.StderrIsTTY || jsonOut {
		return nil
	}
	return &rowProgress{w: env.Stderr, width: env.width, now: time.Now}
}

// progressEvery is how often the line is redrawn.
var progressEvery = 250 * time.Millisecond

// readProgress is what a source may tell of its reading: rows read and the
// fraction of its input read (-1 when not known). console.Stream does.
type readProgress interface {
	Progress() (rows int, frac float64)
}

// update is export.Options.Progress.
func (p *rowProgress) update(people, rows int) {
	p.people.Store(int64(people))
	p.rows.Store(int64(rows))
}

// start draws until stop; total is the number of people in dir when known
// (0 otherwise), for the time left when dir cannot tell its own progress.
func (p *rowProgress) start(dir dingbook.Directory, total int) {
	if p == nil {
		return
	}
	p.stopc = make(chan struct{})
	src, _ := dir.(readProgress)
	begin := p.now()
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		tick := time.NewTicker(progressEvery)
		defer tick.Stop()
		shown := false
		for {
			select {
			case <-p.stopc:
				if shown {
					fmt.Fprint(p.w, "\r\x1b[K")
				}
				return
			case <-tick.C:
			}
			people, rows := int(p.people.Load()), int(p.rows.Load())
			read, frac := people, -1.0
			if src != nil {
				read, frac = src.Progress()
			} else if total > 0 {
				frac = float64(people) / float64(total)
			}
			line := progressLine(p.width(), read, rows, frac, p.now().Sub(begin))
			fmt.Fprint(p.w, "\r\x1b[K"+line)
			shown = true
		}
	}()
}

// stop erases the line and waits for the drawing to end.
func (p *rowProgress) stop() {
	if p == nil || p.stopc == nil {
		return
	}
	close(p.stopc)
	p.wg.Wait()
	p.stopc = nil
}

// progressLine is one redraw: as many of its parts as fit in width-1
// columns (the last column is left free so no terminal wraps).
func progressLine(width, read, written int, frac float64, elapsed time.Duration) string {
	parts := []string{fmt.Sprintf("read %s rows", thousands(read)), "wrote " + thousands(written)}
	if secs := elapsed.Seconds(); secs >= 0.5 {
		parts = append(parts, thousands(int(float64(written)/secs))+" rows/s")
	}
	if frac >= 0 {
		parts = append(parts, fmt.Sprintf("%d%%", int(frac*100)))
		if frac >= 0.01 && frac < 1 && elapsed >= time.Second {
			left := time.Duration(float64(elapsed) * (1 - frac) / frac).Round(time.Second)
			parts = append(parts, "about "+left.String()+" left")
		}
	}
	max := width - 1
	for n := len(parts); n > 0; n-- {
		line := strings.Join(parts[:n], " · ")
		if utf8.RuneCountInString(line) <= max {
			return line
		}
	}
	if max <= 0 {
		return ""
	}
	return string([]rune(parts[0])[:min(max, utf8.RuneCountInString(parts[0]))])
}

// thousands writes n with comma separators.
func thousands(n int) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return s
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
