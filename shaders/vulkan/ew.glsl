// shaders/vulkan/ew.glsl — elementwise geometry: up to 4 dims (the host
// coalesces views and splits higher ranks), one shape, up to 4 views.
// Specialization constant 1 = number of dims actually used (1..4).
layout(constant_id = 1) const int NDIM = 4;
// Spec 3 = VEC: 1 when every view is contiguous with offsets % 4 == 0; an
// invocation then handles 4 elements with vec4 accesses (on CPU-type devices
// each storage-buffer access instruction is costly, so this matters), and the
// invocation just past the vec4 part handles the n % 4 tail.
// VEC 2: the innermost dim is a multiple of 4 and every view has inner
// stride 1 (16-byte aligned rows) or 0 (broadcast): an invocation handles 4
// consecutive elements of one row (vec4 access or one broadcast scalar).
layout(constant_id = 3) const int VEC = 0;

struct View { uint off; uint st0; uint st1; uint st2; uint st3; };

layout(push_constant) uniform PC {
    uint n;           // elements
    uint sh1, sh2, sh3; // shape of dims 1..3 (dim 0 is implied)
    View v[4];        // 0 = dst, 1.. = sources
    float f[4];       // op parameters (raw bits for fills)
} pc;

uvec4 coords(uint i)
{
    uvec4 c = uvec4(0u);
    if (NDIM <= 1) { c.w = i; return c; }
    c.w = i % pc.sh3; i /= pc.sh3;
    if (NDIM == 2) { c.z = i; return c; }
    c.z = i % pc.sh2; i /= pc.sh2;
    if (NDIM == 3) { c.y = i; return c; }
    c.y = i % pc.sh1;
    c.x = i / pc.sh1;
    return c;
}

uint at(int v, uvec4 c)
{
    View w = pc.v[v];
    uint o = w.off + c.w * w.st3;
    if (NDIM >= 2) o += c.z * w.st2;
    if (NDIM >= 3) o += c.y * w.st1;
    if (NDIM >= 4) o += c.x * w.st0;
    return o;
}

// VEC mode: the vec4 index of this invocation, or ~0u for the tail
// invocation, or ~1u for invocations with nothing to do.
uint vec_index()
{
    uint q = lin_id(), nq = pc.n >> 2;
    if (q < nq) return q;
    return q == nq ? 0xffffffffu : 0xfffffffeu;
}

// VEC 2: coordinates of the first of the 4 elements of invocation q.
uvec4 coords4(uint q) { return coords(q << 2); }
bool inner_bcast(int v) { return pc.v[v].st3 == 0u; }
