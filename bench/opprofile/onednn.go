package main

import (
	"bufio"
	"io"
	"strconv"
	"strings"
)

// markStart and markEnd bracket the steps whose oneDNN calls count: the Go
// child prints them around its plain steps, keras_bench.py --mark around
// its timed epochs. Warm-up (primitive creation, first runs) stays out.
const (
	markStart = "ONEDNN-MARK start"
	markEnd   = "ONEDNN-MARK end"
)

// primitive is one oneDNN primitive as ONEDNN_VERBOSE=1 logs its
// executions: kind (convolution, pooling, matmul, eltwise, ...), propagation
// (forward_training, backward_data, backward_weights, ...), the
// implementation that ran and the problem (shapes).
type primitive struct {
	Kind, Prop, Impl, Problem string
}

// primStat is the summed execution time of one primitive.
type primStat struct {
	primitive
	Calls int
	Ms    float64
}

// parseVerbose sums the "exec" lines of a oneDNN verbose log between the
// markers (the whole log when it has no start marker), keyed by primitive.
// The line layout of oneDNN 3.x is
//
//	onednn_verbose[,timestamp],primitive,exec,cpu,KIND,IMPL,PROP,MEMORY,ATTRS,ALG,PROBLEM,MS
//
// (2.x has no "primitive" field): the fields are found from "exec" and
// from the end, so either layout reads.
func parseVerbose(r io.Reader) (map[primitive]*primStat, error) {
	out := map[primitive]*primStat{}
	var lines []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, markStart):
			lines = lines[:0]
			continue
		case strings.HasPrefix(line, markEnd):
			return sum(out, lines), sc.Err()
		case strings.HasPrefix(line, "onednn_verbose,") || strings.HasPrefix(line, "dnnl_verbose,"):
			lines = append(lines, line)
		}
	}
	return sum(out, lines), sc.Err()
}

func sum(out map[primitive]*primStat, lines []string) map[primitive]*primStat {
	for _, line := range lines {
		f := strings.Split(line, ",")
		i := -1
		for j, v := range f {
			if v == "exec" {
				i = j
				break
			}
		}
		if i < 0 || len(f) < i+6 {
			continue
		}
		ms, err := strconv.ParseFloat(strings.TrimSpace(f[len(f)-1]), 64)
		if err != nil {
			continue
		}
		p := primitive{Kind: f[i+2], Impl: f[i+3], Prop: f[i+4], Problem: f[len(f)-2]}
		s := out[p]
		if s == nil {
			s = &primStat{primitive: p}
			out[p] = s
		}
		s.Calls++
		s.Ms += ms
	}
	return out
}
