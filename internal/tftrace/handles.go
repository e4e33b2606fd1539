package tftrace

import (
	"unsafe"

	tf "github.com/wamuir/graft/tensorflow"
)

// graft v0.10.0 keeps each C handle as the first field of its type:
//
//	type Session struct   { c *C.TF_Session; ... }
//	type Operation struct { c *C.TF_Operation; g *Graph }
//	type Tensor struct    { c *C.TF_Tensor; shape []int64 }
//
// and offers no accessor. firstPointer reads that field. TestRunTraced
// runs a graph through these handles, so a graft version that moves them
// fails there, not silently.
func firstPointer(p unsafe.Pointer) unsafe.Pointer {
	if p == nil {
		return nil
	}
	return *(*unsafe.Pointer)(p)
}

func operationHandle(o *tf.Operation) unsafe.Pointer { return firstPointer(unsafe.Pointer(o)) }

func tensorHandle(t *tf.Tensor) unsafe.Pointer { return firstPointer(unsafe.Pointer(t)) }
