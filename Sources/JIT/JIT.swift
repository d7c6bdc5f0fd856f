// The block translator (issue: "The JIT") lands here. Until then the interpreter runs everything.
import CPU

/// Marker for the accelerator seam: the JIT will translate guest blocks for this CPU.
public enum JITStatus {
    public static let available = false
}
