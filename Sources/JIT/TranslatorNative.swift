// Native code for the hot integer subset (see Translator.swift for the conventions).

import CPU
import CPUState

extension Translator {
    /// Emits instruction k natively; returns false (having emitted nothing) when it must go
    /// through the interpreter helper.
    func emitNative(_ d: inout Instr) -> Bool {
        return false
    }
}
