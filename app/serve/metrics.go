package serve

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the server's Prometheus series, on a registry of its own (no
// global state: two servers in one test process do not share counters).
type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec   // by endpoint and status code
	errors   *prometheus.CounterVec   // by reason (the JSON error's "reason")
	latency  *prometheus.HistogramVec // whole request, by endpoint
	predict  prometheus.Histogram     // decode + preprocess + TensorFlow, per poster
	inflight prometheus.Gauge         // predictions holding a slot
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "postergenre", Subsystem: "serve", Name: "requests_total",
			Help: "HTTP requests by endpoint and status code.",
		}, []string{"endpoint", "code"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "postergenre", Subsystem: "serve", Name: "errors_total",
			Help: "Requests answered with an error, by reason (too_large, not_an_image, saturated, …).",
		}, []string{"reason"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "postergenre", Subsystem: "serve", Name: "request_duration_seconds",
			Help:    "Request latency by endpoint, from headers read to response written.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"endpoint"}),
		predict: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "postergenre", Subsystem: "serve", Name: "predict_duration_seconds",
			Help:    "Decode, preprocessing and the TensorFlow run for one poster.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "postergenre", Subsystem: "serve", Name: "inflight_predictions",
			Help: "Prediction requests holding a concurrency slot.",
		}),
	}
	m.reg.MustRegister(m.requests, m.errors, m.latency, m.predict, m.inflight,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// instrument counts and times every request to h under the endpoint label.
func (m *metrics) instrument(endpoint string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		h.ServeHTTP(sw, r)
		m.requests.WithLabelValues(endpoint, strconv.Itoa(sw.code)).Inc()
		m.latency.WithLabelValues(endpoint).Observe(time.Since(start).Seconds())
	})
}

type statusWriter struct {
	http.ResponseWriter
	code        int
	wroteHeader bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wroteHeader {
		w.code, w.wroteHeader = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wroteHeader = true
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the real writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
