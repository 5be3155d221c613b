package govern

// SetCrashPoint lets the crash test kill its child at a stage of Run.
func SetCrashPoint(f func(stage string)) { crashPoint = f }
