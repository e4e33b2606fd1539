package tftrace

// #include <stdlib.h>
// #include "tensorflow/c/c_api.h"
// #cgo LDFLAGS: -ltensorflow
import "C"

import (
	"errors"
	"runtime"
	"sort"
	"unsafe"

	tf "github.com/wamuir/graft/tensorflow"
	pb "github.com/wamuir/graft/tensorflow/core/protobuf/for_core_protos_go_proto"
	"google.golang.org/protobuf/proto"
)

// Run runs one step of sess like sess.Run, with RunOptions opts (its
// trace_level decides what is recorded; output_partition_graphs adds the
// graph as executed), and returns the step's RunMetadata. Fetched values
// are discarded: a traced step is for timing, the caller's own steps
// return values.
func Run(sess *tf.Session, opts *pb.RunOptions, feeds map[tf.Output]*tf.Tensor, fetches []tf.Output, targets []*tf.Operation) (*pb.RunMetadata, error) {
	raw, err := proto.Marshal(opts)
	if err != nil {
		return nil, err
	}
	s := sessionHandle(sess)
	if s == nil {
		return nil, errors.New("tftrace: session is closed")
	}
	// Feeds in a fixed order (as graft's Run sorts them): the runtime keys
	// its cached executors by the feed names in the order given.
	type feed struct {
		out C.TF_Output
		val *C.TF_Tensor
		key string
	}
	var fs []feed
	for o, t := range feeds {
		fs = append(fs, feed{out: outputHandle(o), val: (*C.TF_Tensor)(tensorHandle(t)), key: o.Op.Name()})
	}
	sort.Slice(fs, func(i, j int) bool { return fs[i].key < fs[j].key })
	// Arrays handed to C live in C memory: cgo forbids passing Go memory
	// that holds Go pointers, and these hold C pointers Go cannot tell apart.
	nIn, nOut, nTgt := len(fs), len(fetches), len(targets)
	ins := (*[1 << 20]C.TF_Output)(cArray(nIn, C.sizeof_TF_Output))
	vals := (*[1 << 20]*C.TF_Tensor)(cArray(nIn, C.sizeof_size_t))
	outs := (*[1 << 20]C.TF_Output)(cArray(nOut, C.sizeof_TF_Output))
	outVals := (*[1 << 20]*C.TF_Tensor)(cArray(nOut, C.sizeof_size_t))
	tgts := (*[1 << 20]*C.TF_Operation)(cArray(nTgt, C.sizeof_size_t))
	defer C.free(unsafe.Pointer(ins))
	defer C.free(unsafe.Pointer(vals))
	defer C.free(unsafe.Pointer(outs))
	defer C.free(unsafe.Pointer(outVals))
	defer C.free(unsafe.Pointer(tgts))
	for i, f := range fs {
		ins[i], vals[i] = f.out, f.val
	}
	for i, o := range fetches {
		outs[i] = outputHandle(o)
	}
	for i, t := range targets {
		tgts[i] = (*C.TF_Operation)(operationHandle(t))
	}
	optBuf := C.TF_NewBufferFromString(unsafe.Pointer(&raw[0]), C.size_t(len(raw)))
	defer C.TF_DeleteBuffer(optBuf)
	mdBuf := C.TF_NewBuffer()
	defer C.TF_DeleteBuffer(mdBuf)
	status := C.TF_NewStatus()
	defer C.TF_DeleteStatus(status)
	C.TF_SessionRun(s, optBuf,
		&ins[0], &vals[0], C.int(nIn),
		&outs[0], &outVals[0], C.int(nOut),
		&tgts[0], C.int(nTgt),
		mdBuf, status)
	runtime.KeepAlive(sess)
	runtime.KeepAlive(feeds)
	runtime.KeepAlive(fetches)
	runtime.KeepAlive(targets)
	if C.TF_GetCode(status) != C.TF_OK {
		return nil, errors.New("tftrace: " + C.GoString(C.TF_Message(status)))
	}
	for i := range nOut {
		if outVals[i] != nil {
			C.TF_DeleteTensor(outVals[i])
		}
	}
	var md pb.RunMetadata
	if err := proto.Unmarshal(C.GoBytes(mdBuf.data, C.int(mdBuf.length)), &md); err != nil {
		return nil, err
	}
	return &md, nil
}

// cArray allocates n elements of size bytes in C memory, zeroed; at least
// one element, so that &a[0] is valid for an empty list.
func cArray(n int, size C.size_t) unsafe.Pointer {
	return C.calloc(C.size_t(max(n, 1)), size)
}

func sessionHandle(s *tf.Session) *C.TF_Session {
	return (*C.TF_Session)(firstPointer(unsafe.Pointer(s)))
}

func outputHandle(o tf.Output) C.TF_Output {
	return C.TF_Output{oper: (*C.TF_Operation)(operationHandle(o.Op)), index: C.int(o.Index)}
}
