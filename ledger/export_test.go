package ledger

// WaitBallotIndex waits until the ballot index's background scan of the
// committed state has ended.
func (l *Ledger) WaitBallotIndex() {
	l.ballots.mu.RLock()
	done := l.ballots.done
	l.ballots.mu.RUnlock()
	if done != nil {
		<-done
	}
}

// BallotIndexReady reports whether reads of absent ballot keys are answered
// by the index.
func (l *Ledger) BallotIndexReady() bool {
	l.ballots.mu.RLock()
	defer l.ballots.mu.RUnlock()
	return l.ballots.ready
}
