package wallet

import (
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

type testJob struct {
	queued
	id, result int
}

// settle waits until cond holds under q.mu.
func settle(t *testing.T, q *leaderQueue[*testJob], what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		q.mu.Lock()
		ok := cond()
		q.mu.Unlock()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// wait waits for wg's callers, failing if they hang (a lost slot or hand-over).
func wait(t *testing.T, q *leaderQueue[*testJob], wg *sync.WaitGroup) {
	t.Helper()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		q.mu.Lock()
		defer q.mu.Unlock()
		t.Fatalf("callers stuck: %d leaders, %d queued", q.running, len(q.queue))
	}
}

// idle checks that no leader is left and nothing is queued.
func idle(t *testing.T, q *leaderQueue[*testJob]) {
	t.Helper()
	q.mu.Lock()
	running, queued := q.running, len(q.queue)
	q.mu.Unlock()
	if running != 0 || queued != 0 {
		t.Fatalf("after the jobs: %d leaders, %d queued", running, queued)
	}
}

// allSlotsLead checks that slots new jobs all lead at once: each one's batch waits for
// the others' (a lost slot leaves one queued behind a batch that waits for it).
func allSlotsLead(t *testing.T, q *leaderQueue[*testJob], slots int) {
	t.Helper()
	var in atomic.Int32
	all := make(chan struct{})
	run := func(batch []*testJob) {
		if in.Add(1) == int32(slots) {
			close(all)
		}
		select {
		case <-all:
		case <-time.After(10 * time.Second):
			t.Errorf("only %d of %d slots lead at once", in.Load(), slots)
		}
		for _, j := range batch {
			close(j.done)
		}
	}
	var wg sync.WaitGroup
	for range slots {
		wg.Go(func() { q.do(&testJob{}, slots, 1, run) })
	}
	wait(t, q, &wg)
	idle(t, q)
}

// Many callers: every job is in exactly one batch and answered with its own result,
// batches hold at most maxBatch jobs, at most slots batches run at once, and the queue
// ends with no leader and nothing queued. Batches of one job make leaders take jobs
// handed to others, and find their own job still queued; batches of three make them
// find every queued job led already.
func TestLeaderQueueAnswersEveryJob(t *testing.T) {
	const callers, each = 16, 100
	for _, c := range []struct{ slots, maxBatch int }{{1, 1}, {1, 3}, {4, 1}, {4, 3}} {
		slots, maxBatch := c.slots, c.maxBatch
		t.Run(fmt.Sprintf("slots=%d,max=%d", slots, maxBatch), func(t *testing.T) {
			q := &leaderQueue[*testJob]{}
			var answered [callers * each]atomic.Int32
			var in, peak, batches, biggest atomic.Int32
			run := func(batch []*testJob) {
				n := in.Add(1)
				for m := peak.Load(); n > m && !peak.CompareAndSwap(m, n); m = peak.Load() {
				}
				for m := biggest.Load(); int32(len(batch)) > m && !biggest.CompareAndSwap(m, int32(len(batch))); m = biggest.Load() {
				}
				batches.Add(1)
				for _, j := range batch {
					answered[j.id].Add(1)
					j.result = 3*j.id + 1
				}
				runtime.Gosched() // let callers pile up behind the batch
				for _, j := range batch {
					close(j.done)
				}
				in.Add(-1) // after the answers: a slot changes hands only once run returns
			}
			var wg sync.WaitGroup
			for caller := range callers {
				wg.Go(func() {
					for k := range each {
						j := &testJob{id: caller*each + k}
						q.do(j, slots, maxBatch, run)
						if j.result != 3*j.id+1 {
							t.Errorf("job %d answered %d", j.id, j.result)
						}
					}
				})
			}
			wait(t, q, &wg)
			for id := range answered {
				if n := answered[id].Load(); n != 1 {
					t.Fatalf("job %d in %d batches", id, n)
				}
			}
			if n := biggest.Load(); n < 1 || n > int32(maxBatch) {
				t.Fatalf("biggest batch %d jobs (at most %d)", n, maxBatch)
			}
			if n := peak.Load(); n < 1 || n > int32(slots) {
				t.Fatalf("%d batches ran at once with %d slots", n, slots)
			}
			idle(t, q)
			t.Logf("%d jobs in %d batches, biggest %d, at most %d at once", callers*each, batches.Load(), biggest.Load(), peak.Load())
		})
	}
}

// One slot: the jobs queued behind a batch run in the order they came, maxBatch at a
// time, each batch led by the oldest job not run yet.
func TestLeaderQueueBatchesInOrder(t *testing.T) {
	const maxBatch = 3
	q := &leaderQueue[*testJob]{}
	gate, started := make(chan struct{}), make(chan struct{})
	var mu sync.Mutex
	var got [][]int
	run := func(batch []*testJob) {
		ids := make([]int, len(batch))
		for i, j := range batch {
			ids[i] = j.id
		}
		mu.Lock()
		got = append(got, ids)
		mu.Unlock()
		if batch[0].id == 0 {
			close(started)
			<-gate
		}
		for _, j := range batch {
			close(j.done)
		}
	}
	var wg sync.WaitGroup
	wg.Go(func() { q.do(&testJob{id: 0}, 1, maxBatch, run) })
	<-started
	for id := 1; id <= 5; id++ {
		wg.Go(func() { q.do(&testJob{id: id}, 1, maxBatch, run) })
	}
	var order []int
	settle(t, q, "5 queued jobs", func() bool {
		if len(q.queue) < 5 {
			return false
		}
		for _, j := range q.queue {
			order = append(order, j.id)
		}
		return true
	})
	close(gate)
	wait(t, q, &wg)
	want := [][]int{{0}, order[:3], order[3:]}
	if !slices.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("batches %v, want %v", got, want)
	}
	idle(t, q)
	allSlotsLead(t, q, 1)
}

// slots jobs arriving together lead at once, one batch each.
func TestLeaderQueueSlotsLeadAtOnce(t *testing.T) {
	for _, slots := range []int{1, 2, 4} {
		allSlotsLead(t, &leaderQueue[*testJob]{}, slots)
	}
}

// With several leaders, a job can be handed the lead by one leader and answered by
// another before it takes the lead. Set up by hand (the test plays both leaders): the
// job must still take the lead and give its slot back, or later jobs lose a leader.
func TestLeaderQueueHandedLeadAnswered(t *testing.T) {
	const slots = 2
	q := &leaderQueue[*testJob]{}
	q.mu.Lock()
	q.running = slots // leaders A and B are running batches
	q.mu.Unlock()
	h := &testJob{id: 1}
	ran := make(chan []*testJob, 1)
	returned := make(chan struct{})
	go func() {
		q.do(h, slots, 4, func(batch []*testJob) { ran <- batch })
		close(returned)
	}()
	settle(t, q, "h queued", func() bool { return len(q.queue) == 1 })
	time.Sleep(5 * time.Millisecond) // h waits for done or lead
	q.mu.Lock()
	h.handed = true // A, its own job answered, hands h the lead
	q.queue = q.queue[1:]
	q.mu.Unlock()
	h.result = 7
	close(h.done)                    // B took h into its batch and answers it
	time.Sleep(5 * time.Millisecond) // h sees done before A's lead arrives
	h.lead <- struct{}{}             // A sends the lead and leaves
	q.mu.Lock()
	q.running-- // B finds nothing queued and gives its slot back
	q.mu.Unlock()
	select {
	case <-returned:
	case <-time.After(10 * time.Second):
		t.Fatal("h never returned")
	}
	select {
	case b := <-ran:
		t.Fatalf("h ran a batch of %d jobs with nothing queued", len(b))
	default:
	}
	if h.result != 7 {
		t.Fatalf("h answered %d", h.result)
	}
	idle(t, q)
	allSlotsLead(t, q, slots)
}
