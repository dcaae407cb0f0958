package serve

import (
	"github.com/prometheus/client_golang/prometheus"

	"l2hub/capture"
)

// captureCollector exports a capture sink's counters, so that frames a
// capture lost (its writer fell behind, or its file failed) show up on
// /metrics as they happen, not only in the shutdown summary.
type captureCollector struct {
	stats                          func() capture.Stats
	written, bytes, files, dropped *prometheus.Desc
}

func newCaptureCollector(stats func() capture.Stats) *captureCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("l2hub_capture_"+name, help, labels, nil)
	}
	return &captureCollector{
		stats:   stats,
		written: d("written_frames_total", "Packet records written to capture files."),
		bytes:   d("written_bytes_total", "Bytes written to capture files, headers included."),
		files:   d("files_total", "Capture files created (rotations and per-port files included)."),
		dropped: d("dropped_frames_total", "Frames the capture did not record, by reason: queue-full (the writer fell behind), write-error (the file failed), reader-gone (after a stream's reader closed it: no error), stuck (still queued when the capture gave up on a stream whose reader stopped reading), closed (after shutdown began).", "reason"),
	}
}

// Describe implements prometheus.Collector.
func (c *captureCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.written, c.bytes, c.files, c.dropped} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *captureCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.stats()
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	counter(c.written, st.Written)
	counter(c.bytes, st.Bytes)
	counter(c.files, st.Files)
	counter(c.dropped, st.QueueFull, "queue-full")
	counter(c.dropped, st.WriteError, "write-error")
	counter(c.dropped, st.ReaderGone, "reader-gone")
	counter(c.dropped, st.Stuck, "stuck")
	counter(c.dropped, st.Closed, "closed")
}
