package main

import "github.com/postergenre/postergenre/internal/tfinfo"

func tfVersion() string { return tfinfo.Version() }
