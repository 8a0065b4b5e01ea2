package wallet

import "sync"

// leaderQueue runs the jobs of concurrent calls in batches, at most slots batches at
// once: the group commit (group.go, one slot: SQLite has one writer) and the transfer
// batches (batch.go, batchSlots).
//
// There is no committer goroutine: a caller queues its job, and the first caller to find
// a free slot becomes a leader. A leader runs one batch of whatever is queued (up to
// maxBatch jobs), then hands leadership to the oldest job still queued that is not
// leading yet (or gives its slot back when none is queued), so nobody waits behind more
// than the batches running and the one being formed. A leader whose own job is still
// queued (more than a batch was ahead of it) runs the next batch itself. The other
// callers wait until their job is answered or they are handed the lead.
//
// The zero value is ready and the owner passes slots, maxBatch and run to each do, so
// the owners' struct literals (wallet.go, tests) need nothing for it.
type leaderQueue[J leaderJob] struct {
	mu      sync.Mutex
	queue   []J
	running int // leaders
}

// leaderJob is a job of a leaderQueue: a pointer to a struct that embeds queued.
type leaderJob interface {
	queueState() *queued
}

// queued is the queue's state of one job, embedded in the job types.
type queued struct {
	done   chan struct{} // closed by the batch's run when the job is answered
	lead   chan struct{} // 1-buffered: become a leader
	handed bool          // leads, or lead was sent (under leaderQueue.mu)
}

func (q *queued) queueState() *queued { return q }

// do queues j and returns when it is answered. run executes one batch (at most maxBatch
// jobs) and must close every job's done, whatever happens, once the job's outcome is set.
func (q *leaderQueue[J]) do(j J, slots, maxBatch int, run func(batch []J)) {
	s := j.queueState()
	s.done = make(chan struct{})
	s.lead = make(chan struct{}, 1)
	q.mu.Lock()
	q.queue = append(q.queue, j)
	leader := q.running < slots
	if leader {
		q.running++
	}
	s.handed = leader
	q.mu.Unlock()
	if !leader {
		select {
		case <-s.done:
			// With several leaders (PostgreSQL) another one may have answered j after
			// j was handed the lead: the lead must still be taken, or its slot is lost.
			q.mu.Lock()
			handed := s.handed
			q.mu.Unlock()
			if !handed {
				return
			}
			<-s.lead
		case <-s.lead:
		}
	}
	for {
		q.mu.Lock()
		n := min(len(q.queue), maxBatch)
		batch := append([]J(nil), q.queue[:n]...)
		q.queue = q.queue[n:]
		q.mu.Unlock()
		if len(batch) > 0 { // a handed lead may find the queue taken by other leaders
			run(batch)
		}
		q.mu.Lock()
		if len(q.queue) == 0 {
			q.running--
			q.mu.Unlock()
			break
		}
		select {
		case <-s.done: // answered: hand over to the oldest job not yet leading
			var next *queued
			for _, o := range q.queue {
				if o := o.queueState(); !o.handed {
					next = o
					break
				}
			}
			if next == nil {
				// Every queued job has a leader of its own already.
				q.running--
				q.mu.Unlock()
				return
			}
			next.handed = true
			q.mu.Unlock()
			next.lead <- struct{}{}
			return
		default: // still queued: more than a batch was ahead of it
			q.mu.Unlock()
		}
	}
	<-s.done
}
