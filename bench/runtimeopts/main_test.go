package main

import (
	"slices"
	"testing"
)

func TestPick(t *testing.T) {
	cases := []struct {
		list    string
		want    []string
		wantErr bool
	}{
		{list: "default,xla,eigen,inter-op-1,one-thread", want: []string{"default", "xla", "eigen", "inter-op-1", "one-thread"}},
		{list: "eigen", want: []string{"default", "eigen"}},
		{list: " xla , default", want: []string{"default", "xla"}},
		{list: "", want: []string{"default"}},
		{list: "xla,turbo", wantErr: true},
	}
	for _, c := range cases {
		got, err := pick(c.list)
		if c.wantErr {
			if err == nil {
				t.Errorf("pick(%q): no error", c.list)
			}
			continue
		}
		if err != nil {
			t.Fatalf("pick(%q): %v", c.list, err)
		}
		var names []string
		for _, v := range got {
			names = append(names, v.name)
		}
		if !slices.Equal(names, c.want) {
			t.Errorf("pick(%q) = %v, want %v", c.list, names, c.want)
		}
	}
}
