#!/bin/sh
# The reference library must not allocate and must not call libm's transcendental
# functions (ggdm defines its own): checks the undefined symbols of libggdm.a.
# Only IEEE correctly rounded primitives (sqrt, sqrtf, fma, fmaf) may come from libm.
set -eu
lib="${1:-build/libggdm.a}"
[ -f "$lib" ] || { echo "symbols: $lib not built" >&2; exit 1; }
undef=$(nm -u "$lib" 2>/dev/null | awk '{print $NF}' | sort -u)
alloc=$(printf '%s\n' "$undef" | grep -E '^(malloc|calloc|realloc|free|aligned_alloc|posix_memalign|memalign|valloc|alloca|strdup|strndup)$' || true)
math=$(printf '%s\n' "$undef" | grep -E '^(exp|exp2|expm1|log|log2|log10|log1p|sin|cos|tan|sinh|cosh|tanh|asin|acos|atan|atan2|erf|erfc|pow|cbrt|hypot|lgamma|tgamma|sincos|rint|nearbyint|lrint|round|floor|ceil|trunc|ldexp|frexp|scalbn|modf|fmod|remainder)[fl]?$' || true)
io=$(printf '%s\n' "$undef" | grep -E '^(printf|fprintf|puts|fputs|putchar|fwrite|fopen|exit|abort|__assert_fail|__assert_rtn)$' || true)
status=0
if [ -n "$alloc" ]; then echo "symbols: FAIL: $lib calls allocation functions: $(echo $alloc)"; status=1; fi
if [ -n "$math" ]; then echo "symbols: FAIL: $lib calls libm transcendental functions: $(echo $math)"; status=1; fi
if [ -n "$io" ]; then echo "symbols: FAIL: $lib prints, exits or asserts: $(echo $io)"; status=1; fi
if [ "$status" = 0 ]; then
    echo "symbols: ok: $lib has no allocation, libm transcendental, I/O, exit or assert calls"
    echo "symbols: libm primitives used: $(printf '%s\n' "$undef" | grep -E '^(sqrt|sqrtf|fma|fmaf)$' | tr '\n' ' ')"
fi
exit $status
