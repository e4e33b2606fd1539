package serve

// HoldSlots takes n prediction slots, as n predictions in flight would,
// until release is called: saturation is tested without a slow model.
func (s *Server) HoldSlots(n int) (release func()) {
	for range n {
		s.slots <- struct{}{}
		s.metrics.inflight.Inc()
	}
	return func() {
		for range n {
			s.release()
		}
	}
}
