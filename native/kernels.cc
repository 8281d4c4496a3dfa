// tfjs-trust's compiled TensorFlow kernels for the variational layers, for tfjs-node's `tensorflow`
// backend. A Flipout training step on tfjs' eager ops makes ~20 passes over each kernel and draws
// its noise in JavaScript (~4 ms for a 1024 x 512 kernel, as long as a whole Dense step); here the
// draw (noise, σ, ΔW, KL) is one pass, its gradient another, both on two threads, and the noise
// is the same as JavaScript's, bit for bit.
//
// Built by scripts/tfjs-node-offline.sh against the TensorFlow C API the tfjs-node addon links
// (tensorflow/c/ops.h, kernels.h: a stable ABI), with Eigen's vectorised exp/log from the wheel's
// headers. It is a Node addon only so that `process.dlopen` loads it into the process: loading
// registers the ops with TensorFlow, which tfjs-node then runs by name (src/backends/compiled_kernels.ts).
#include <node_api.h>
#include <tensorflow/c/kernels.h>
#include <tensorflow/c/ops.h>
#include <tensorflow/c/tf_status.h>
#include <tensorflow/c/tf_tensor.h>

#include <Eigen/Core>
#ifdef __AVX512F__
#include <immintrin.h>
#endif
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace {

using Array = Eigen::Map<Eigen::ArrayXf>;
using ConstArray = Eigen::Map<const Eigen::ArrayXf>;

// ---------------------------------------------------------------------------------------------
// Noise: src/noise.ts in C++, bit for bit (xoshiro128** and the same ziggurat), so a seed gives
// the same samples on every backend. Built with -ffp-contract=off so no product is fused into an
// FMA that JavaScript would round twice.

constexpr int kLayers = 256;
constexpr double kTailStart = 3.6541528853610088;
constexpr double kLayerArea = 4.92867323399e-3;
constexpr double kMagnitudeScale = 1.0 / 16777216.0;
constexpr double kUint32Scale = 1.0 / 4294967296.0;

struct Ziggurat {
  double edges[kLayers + 1];
  double ratios[kLayers];
  int32_t magnitudeLimits[kLayers];
  float magnitudeEdges[kLayers];

  Ziggurat() {
    auto density = [](double x) { return std::exp(-0.5 * x * x); };
    edges[0] = kLayerArea / density(kTailStart);
    edges[1] = kTailStart;
    for (int i = 2; i < kLayers; i++) edges[i] = std::sqrt(-2 * std::log(kLayerArea / edges[i - 1] + density(edges[i - 1])));
    edges[kLayers] = 0;
    for (int i = 0; i < kLayers; i++) {
      ratios[i] = edges[i + 1] / edges[i];
      magnitudeLimits[i] = static_cast<int32_t>(std::ceil((ratios[i] / kMagnitudeScale - 1) / 2));
      magnitudeEdges[i] = static_cast<float>(edges[i] * kMagnitudeScale);
    }
  }
};
const Ziggurat kZiggurat;

inline uint32_t rotl(uint32_t x, int k) { return (x << k) | (x >> (32 - k)); }
inline double signOf(uint32_t bits) { return 1.0 - static_cast<double>((bits >> 7) & 2); }

class Xoshiro128 {
 public:
  Xoshiro128(uint32_t seed, uint32_t stream = 0) : s_(seed + 4 * stream * 0x9e3779b9u) {
    a_ = splitmix();
    b_ = splitmix();
    c_ = splitmix();
    d_ = splitmix();
  }

  void state(uint32_t* a, uint32_t* b, uint32_t* c, uint32_t* d) const {
    *a = a_;
    *b = b_;
    *c = c_;
    *d = d_;
  }

  uint32_t nextBits() {
    const uint32_t result = rotl(b_ * 5u, 7) * 9u;
    const uint32_t t = b_ << 9;
    c_ ^= a_;
    d_ ^= b_;
    b_ ^= c_;
    a_ ^= d_;
    c_ ^= t;
    d_ = rotl(d_, 11);
    return result;
  }

  double nextOpenUniform() { return (static_cast<double>(nextBits()) + 0.5) * kUint32Scale; }

  // The ziggurat beyond its rectangle for the draw `bits`, further draws from this stream (noise.ts, normalFrom).
  double normalFrom(uint32_t bits) {
    const Ziggurat& z = kZiggurat;
    for (;;) {
      const int layer = bits & (kLayers - 1);
      const double sign = signOf(bits);
      const double u = static_cast<double>(2 * (bits >> 9) + 1) * kMagnitudeScale;
      if (u < z.ratios[layer]) return sign * u * z.edges[layer];
      if (layer == 0) return sign * tail();
      const double x = u * z.edges[layer];
      const double below = std::exp(-0.5 * (z.edges[layer] * z.edges[layer] - x * x));
      const double above = std::exp(-0.5 * (z.edges[layer + 1] * z.edges[layer + 1] - x * x));
      if (above + nextOpenUniform() * (below - above) < 1) return sign * x;
      bits = nextBits();
    }
  }

 private:
  uint32_t splitmix() {
    s_ += 0x9e3779b9u;
    uint32_t z = s_;
    z = (z ^ (z >> 16)) * 0x85ebca6bu;
    z = (z ^ (z >> 13)) * 0xc2b2ae35u;
    return z ^ (z >> 16);
  }

  double tail() {
    for (;;) {
      const double x = -std::log(nextOpenUniform()) / kTailStart;
      const double y = -std::log(nextOpenUniform());
      if (2 * y >= x * x) return kTailStart + x;
    }
  }

  uint32_t s_, a_, b_, c_, d_;
};

// Normal draws come in chunks of this many, each from its own streams: noise.ts, NORMAL_CHUNK.
constexpr int64_t kNormalChunk = 1 << 16;
// A chunk's interleaved lanes: noise.ts, NORMAL_LANES.
constexpr int kLanes = 16;

// noise.ts, chunkSeed.
uint32_t chunkSeed(uint32_t seed, int64_t chunk) {
  return chunk == 0 ? seed : Xoshiro128(seed ^ (static_cast<uint32_t>(chunk) * 0x9e3779b9u)).nextBits();
}

// The rectangle's value for a draw inside it: (2m + 1) times the layer's scaled edge, one float
// multiply (exact operands, one rounding, as noise.ts), with bit 8 as the sign.
inline float rectangleValue(uint32_t bits) {
  const float value = static_cast<float>(2 * (bits >> 9) + 1) * kZiggurat.magnitudeEdges[bits & (kLayers - 1)];
  return (bits >> 8) & 1 ? -value : value;
}

inline bool insideRectangle(uint32_t bits) { return static_cast<int32_t>(bits >> 9) < kZiggurat.magnitudeLimits[bits & (kLayers - 1)]; }

// One chunk a lane at a time (noise.ts, fillNormalChunk).
void fillNormalLanes(float* out, int64_t n, uint32_t seed) {
  for (int lane = 0; lane < kLanes && lane < n; lane++) {
    Xoshiro128 rng(seed, lane);
    std::optional<Xoshiro128> beyond;
    for (int64_t i = lane; i < n; i += kLanes) {
      const uint32_t bits = rng.nextBits();
      if (insideRectangle(bits)) {
        out[i] = rectangleValue(bits);
      } else {
        if (!beyond) beyond.emplace(seed, kLanes + lane);
        out[i] = static_cast<float>(beyond->normalFrom(bits));
      }
    }
  }
}

#ifdef __AVX512F__
// One chunk of whole rows with the 16 lanes side by side, one vector register per state word: a
// step of the 16 streams, their rectangle tests and values in ~20 instructions. A draw outside the
// rectangle is left in place as its bits and finished afterwards, row by row, from its lane's
// second stream: each lane's values in order, the same as fillNormalLanes's.
void fillNormalRows(float* out, int64_t n, uint32_t seed) {
  const Ziggurat& z = kZiggurat;
  alignas(64) uint32_t state[4][kLanes];
  for (int k = 0; k < kLanes; k++) Xoshiro128(seed, k).state(&state[0][k], &state[1][k], &state[2][k], &state[3][k]);
  __m512i a = _mm512_load_si512(state[0]), b = _mm512_load_si512(state[1]), c = _mm512_load_si512(state[2]), d = _mm512_load_si512(state[3]);
  const __m512i layerMask = _mm512_set1_epi32(kLayers - 1), one = _mm512_set1_epi32(1);
  const int64_t rows = n / kLanes;
  thread_local std::vector<uint16_t> outside;
  outside.resize(rows);
  for (int64_t row = 0; row < rows; row++) {
    const __m512i times5 = _mm512_add_epi32(b, _mm512_slli_epi32(b, 2));
    const __m512i rotated = _mm512_rol_epi32(times5, 7);
    const __m512i bits = _mm512_add_epi32(rotated, _mm512_slli_epi32(rotated, 3));
    const __m512i t = _mm512_slli_epi32(b, 9);
    c = _mm512_xor_si512(c, a);
    d = _mm512_xor_si512(d, b);
    b = _mm512_xor_si512(b, c);
    a = _mm512_xor_si512(a, d);
    c = _mm512_xor_si512(c, t);
    d = _mm512_rol_epi32(d, 11);
    const __m512i layer = _mm512_and_si512(bits, layerMask);
    const __m512i magnitude = _mm512_srli_epi32(bits, 9);
    const __mmask16 inside = _mm512_cmplt_epi32_mask(magnitude, _mm512_i32gather_epi32(layer, z.magnitudeLimits, 4));
    const __m512 value = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(_mm512_slli_epi32(magnitude, 1), one)),
                                       _mm512_i32gather_ps(layer, z.magnitudeEdges, 4));
    const __m512i signedValue = _mm512_or_si512(_mm512_castps_si512(value), _mm512_slli_epi32(_mm512_srli_epi32(bits, 8), 31));
    _mm512_storeu_si512(out + row * kLanes, _mm512_mask_blend_epi32(inside, bits, signedValue));
    outside[row] = static_cast<uint16_t>(~inside);
  }
  std::optional<Xoshiro128> beyond[kLanes];
  for (int64_t row = 0; row < rows; row++) {
    for (uint32_t lanes = outside[row]; lanes != 0; lanes &= lanes - 1) {
      const int lane = __builtin_ctz(lanes);
      if (!beyond[lane]) beyond[lane].emplace(seed, kLanes + lane);
      float* value = out + row * kLanes + lane;
      uint32_t bits;
      std::memcpy(&bits, value, sizeof bits);
      *value = static_cast<float>(beyond[lane]->normalFrom(bits));
    }
  }
}
#endif

// One chunk (noise.ts, fillNormalChunk): whole rows side by side where the CPU has AVX-512.
void fillNormalChunk(float* out, int64_t n, uint32_t seed) {
#ifdef __AVX512F__
  if (n % kLanes == 0) return fillNormalRows(out, n, seed);
#endif
  fillNormalLanes(out, n, seed);
}

int64_t chunkCount(int64_t n) { return (n + kNormalChunk - 1) / kNormalChunk; }

void fillRademacher(float* out, int64_t n, uint32_t seed) {
  Xoshiro128 rng(seed);
  for (int64_t i = 0; i < n; i += 32) {
    const uint32_t bits = rng.nextBits();
    const int64_t end = std::min<int64_t>(32, n - i);
    for (int64_t k = 0; k < end; k++) out[i + k] = static_cast<float>(((bits >> k) & 1) * 2) - 1.0f;
  }
}

// ---------------------------------------------------------------------------------------------
// Kernel plumbing.

// Elementwise passes go by blocks of this many floats (64 KB: in cache between the steps of a pass).
// Sums run in float within a block and in double across blocks.
constexpr int64_t kBlock = 4096;

// Below this many elements a pass runs on the calling thread alone: a share would cost less than
// waking the second thread.
constexpr int64_t kParallelMin = 1 << 16;

// One thread kept for a share of every parallelFor: starting a thread per pass costs ~40 µs.
// After a task it spins a little before it sleeps, as TensorFlow's own pool does: a training
// step's passes come in bursts. TensorFlow's pool is not reachable from the C API.
class SecondThread {
 public:
  // Never destroyed: its thread waits until the process exits.
  static SecondThread& instance() {
    static SecondThread* second = new SecondThread;
    return *second;
  }

  // Offers task to the second thread; false if another caller's task holds it.
  bool start(std::function<void()> task) {
    int idle = kIdle;
    if (!state_.compare_exchange_strong(idle, kClaimed, std::memory_order_acquire)) return false;
    task_ = std::move(task);
    state_.store(kPosted, std::memory_order_release);
    std::lock_guard<std::mutex> lock(mutex_);
    if (sleeping_) wake_.notify_one();
    return true;
  }

  // Takes the task back if the second thread has not started it, else waits for it to end.
  void finish() {
    int posted = kPosted;
    if (!state_.compare_exchange_strong(posted, kClaimed, std::memory_order_acquire)) {
      while (state_.load(std::memory_order_acquire) != kDone) std::this_thread::yield();
    }
    task_ = nullptr;
    state_.store(kIdle, std::memory_order_release);
  }

 private:
  enum State { kIdle, kClaimed, kPosted, kRunning, kDone };
  static constexpr auto kSpin = std::chrono::microseconds(100);

  SecondThread() { std::thread([this] { loop(); }).detach(); }

  bool posted() const { return state_.load(std::memory_order_acquire) == kPosted; }

  void loop() {
    for (;;) {
      const auto until = std::chrono::steady_clock::now() + kSpin;
      while (!posted() && std::chrono::steady_clock::now() < until) {
      }
      if (!posted()) {
        std::unique_lock<std::mutex> lock(mutex_);
        sleeping_ = true;
        wake_.wait(lock, [&] { return posted(); });
        sleeping_ = false;
      }
      int expected = kPosted;
      if (!state_.compare_exchange_strong(expected, kRunning, std::memory_order_acquire)) continue;  // taken back
      task_();
      state_.store(kDone, std::memory_order_release);
    }
  }

  std::atomic<int> state_{kIdle};
  std::function<void()> task_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool sleeping_ = false;
};

// Runs fn(begin, end) over [0, n) one unit (`unit` elements) at a time, the calling thread and
// the second one taking the next unit until none is left: a second thread that wakes late takes
// fewer, and none if it wakes after the last. Units are whole noise chunks or blocks, so fn may
// keep a result per unit (begin / unit) and the caller add them in order: the same sums whoever
// ran which.
template <typename Fn>
void parallelFor(int64_t n, int64_t unit, const Fn& fn) {
  const int64_t units = (n + unit - 1) / unit;
  std::atomic<int64_t> next{0};
  auto work = [&] {
    for (int64_t u = next.fetch_add(1); u < units; u = next.fetch_add(1)) fn(u * unit, std::min(n, (u + 1) * unit));
  };
  if (n < kParallelMin || units < 2 || !SecondThread::instance().start(work)) {
    work();
    return;
  }
  work();
  SecondThread::instance().finish();
}

// The units' partial sums of a parallelFor, added in their order.
double sumInOrder(const std::vector<double>& partial) {
  double sum = 0;
  for (double p : partial) sum += p;
  return sum;
}

struct Status {
  TF_Status* s = TF_NewStatus();
  ~Status() { TF_DeleteStatus(s); }
  bool ok() const { return TF_GetCode(s) == TF_OK; }
};

// An input as a tensor the kernel must delete.
struct Input {
  TF_Tensor* t = nullptr;
  Input(TF_OpKernelContext* ctx, int i, Status& status) { TF_GetInput(ctx, i, &t, status.s); }
  ~Input() {
    if (t) TF_DeleteTensor(t);
  }
  int64_t size() const { return TF_TensorElementCount(t); }
  const float* floats() const { return static_cast<const float*>(TF_TensorData(t)); }
  const int32_t* ints() const { return static_cast<const int32_t*>(TF_TensorData(t)); }
  std::vector<int64_t> dims() const {
    std::vector<int64_t> d(TF_NumDims(t));
    for (size_t i = 0; i < d.size(); i++) d[i] = TF_Dim(t, static_cast<int>(i));
    return d;
  }
};

// Allocates output i as float32 of shape dims; null (with the context failed) on error.
float* allocate(TF_OpKernelContext* ctx, int i, const std::vector<int64_t>& dims, Status& status) {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  TF_Tensor* t = TF_AllocateOutput(ctx, i, TF_FLOAT, dims.data(), static_cast<int>(dims.size()), n * sizeof(float), status.s);
  if (!status.ok()) return nullptr;
  float* data = static_cast<float*>(TF_TensorData(t));
  TF_DeleteTensor(t);
  return data;
}

void fail(TF_OpKernelContext* ctx, const char* message) {
  Status status;
  TF_SetStatus(status.s, TF_INVALID_ARGUMENT, message);
  TF_OpKernelContext_Failure(ctx, status.s);
}

float floatAttr(TF_OpKernelConstruction* ctx, const char* name) {
  Status status;
  float value = 0;
  TF_OpKernelConstruction_GetAttrFloat(ctx, name, &value, status.s);
  if (!status.ok()) TF_OpKernelConstruction_Failure(ctx, status.s);
  return value;
}

// ---------------------------------------------------------------------------------------------
// Noise ops: inputs shape (int32 vector) and seed (int32 scalar, read as uint32); float output.
// The seed is an input, not an attribute: TensorFlow caches a kernel per attribute value.

// Reads the inputs shape and seed, allocates the output; null (with the context failed) on error.
float* noiseOutput(TF_OpKernelContext* ctx, int64_t* n, uint32_t* seed) {
  Status status;
  Input shape(ctx, 0, status), seedInput(ctx, 1, status);
  if (!status.ok()) {
    TF_OpKernelContext_Failure(ctx, status.s);
    return nullptr;
  }
  if (seedInput.size() != 1) {
    fail(ctx, "seed must be a scalar");
    return nullptr;
  }
  std::vector<int64_t> dims(shape.ints(), shape.ints() + shape.size());
  float* out = allocate(ctx, 0, dims, status);
  if (!out) TF_OpKernelContext_Failure(ctx, status.s);
  *n = 1;
  for (int64_t d : dims) *n *= d;
  *seed = static_cast<uint32_t>(seedInput.ints()[0]);
  return out;
}

void computeNormalNoise(void*, TF_OpKernelContext* ctx) {
  int64_t n;
  uint32_t seed;
  float* out = noiseOutput(ctx, &n, &seed);
  if (!out) return;
  parallelFor(n, kNormalChunk, [&](int64_t begin, int64_t end) { fillNormalChunk(out + begin, end - begin, chunkSeed(seed, begin / kNormalChunk)); });
}

void computeRademacherNoise(void*, TF_OpKernelContext* ctx) {
  int64_t n;
  uint32_t seed;
  float* out = noiseOutput(ctx, &n, &seed);
  if (out) fillRademacher(out, n, seed);
}

// ---------------------------------------------------------------------------------------------
// Flipout's sign flips: t ⊙ s for t of shape [batch, ..., channels] and Rademacher signs s of shape
// [batch, channels] (fillRademacher's, for the seed), shared over the axes between: the signs
// never exist as a tensor. Its own gradient, with the same seed (s ⊙ s = 1).

void computeFlipSigns(void*, TF_OpKernelContext* ctx) {
  Status status;
  Input t(ctx, 0, status), seed(ctx, 1, status);
  if (!status.ok()) return TF_OpKernelContext_Failure(ctx, status.s);
  const std::vector<int64_t> dims = t.dims();
  if (dims.size() < 2 || seed.size() != 1) return fail(ctx, "t must have rank >= 2 and seed be a scalar");
  float* out = allocate(ctx, 0, dims, status);
  if (!out) return TF_OpKernelContext_Failure(ctx, status.s);
  const int64_t batch = dims.front(), channels = dims.back();
  const int64_t spatial = batch * channels == 0 ? 0 : t.size() / (batch * channels);
  thread_local std::vector<float> signs;
  signs.resize(batch * channels);
  fillRademacher(signs.data(), batch * channels, static_cast<uint32_t>(seed.ints()[0]));
  const float* in = t.floats();
  const float* flips = signs.data();  // the calling thread's: thread_local names another on the second thread
  // Split by whole rows of (spatial × channels) elements.
  const int64_t row = spatial * channels;
  parallelFor(t.size(), std::max<int64_t>(row, 1), [&](int64_t begin, int64_t end) {
    for (int64_t b = begin / std::max<int64_t>(row, 1); b * row < end; b++) {
      ConstArray s(flips + b * channels, channels);
      for (int64_t p = 0; p < spatial; p++) {
        const int64_t offset = (b * spatial + p) * channels;
        Array(out + offset, channels) = ConstArray(in + offset, channels) * s;
      }
    }
  });
}

// ---------------------------------------------------------------------------------------------
// sigma = softplus(rho) + floor, as max(rho, 0) + log1p(exp(-|rho|)): exact for every rho and
// vectorised, where TensorFlow's Softplus evaluates exp twice and both branches of a select.

// σ over a block and, where asked, the two factors of ρ's gradient in a training step's draw
// (computePosteriorDrawGrad): sigmoid(ρ) / σ and σ · sigmoid(ρ), from the same e^−|ρ|.
//
// log1p(e) for e = e^−|ρ| in (0, 1] as 2 atanh(h), h = e / (2 + e) in (0, 1/3]: seven terms of the
// series reach float32's precision (the next is below 1e-9 of the sum; 2.4e-7 relative to the
// exact softplus, as Eigen's log1p), 1.7× faster than Eigen's log1p, which reduces any argument.
void sigmaBlock(const float* rho, int64_t len, float floor, float* sigma, float* overSigma = nullptr, float* timesSigma = nullptr) {
  float e[kBlock], h[kBlock], hh[kBlock];
  ConstArray r(rho, len);
  Array expNeg(e, len), half(h, len), q(hh, len), s(sigma, len);
  expNeg = (-r.abs()).exp();
  half = expNeg / (2.0f + expNeg);
  q = half.square();
  s = r.max(0.0f) +
      2.0f * half * (1.0f + q * (1.0f / 3 + q * (1.0f / 5 + q * (1.0f / 7 + q * (1.0f / 9 + q * (1.0f / 11 + q * (1.0f / 13))))))) + floor;
  if (!overSigma) return;
  // sigmoid(ρ) = 1 / (1 + e^−ρ), as e^−|ρ| / (1 + e^−|ρ|) for ρ < 0 so that it never overflows;
  // one division for both factors.
  Array over(overSigma, len);
  over = (r >= 0.0f).select(1.0f, expNeg) / ((1.0f + expNeg) * s);
  Array(timesSigma, len) = over * s * s;
}

struct SigmaAttrs {
  float floor;
};

void* createSigma(TF_OpKernelConstruction* ctx) { return new SigmaAttrs{floatAttr(ctx, "floor")}; }
void deleteSigma(void* kernel) { delete static_cast<SigmaAttrs*>(kernel); }

void computeSigma(void* kernel, TF_OpKernelContext* ctx) {
  const float floor = static_cast<SigmaAttrs*>(kernel)->floor;
  Status status;
  Input rho(ctx, 0, status);
  if (!status.ok()) return TF_OpKernelContext_Failure(ctx, status.s);
  float* out = allocate(ctx, 0, rho.dims(), status);
  if (!out) return TF_OpKernelContext_Failure(ctx, status.s);
  const float* in = rho.floats();
  parallelFor(rho.size(), kBlock, [&](int64_t begin, int64_t end) { sigmaBlock(in + begin, end - begin, floor, out + begin); });
}

// ---------------------------------------------------------------------------------------------
// KL(N(loc, sigma²) ‖ N(mean, stddev²)) summed over the weights, and its gradient: one pass each
// where tfjs makes four (Σσ², Σ(μ−m)², log, Σ) forward and four backward.

// A Normal prior N(mean, stddev²), and KL(N(μ, σ²) ‖ it) summed over the weights:
// Σ [(σ² + (μ − mean)²) / (2 stddev²) − log σ] + n (log stddev − ½).
struct NormalPrior {
  float mean;
  float stddev;

  // Σ (σ² + (μ − mean)²) / (2 stddev²) over a block: the KL but its logarithms and constant.
  template <typename Sigma>
  double squares(const ConstArray& mu, const Sigma& sigma) const {
    const float halfPrecision = 0.5f / (stddev * stddev);
    return static_cast<double>(((sigma.square() + (mu - mean).square()) * halfPrecision).sum());
  }

  double constant(int64_t n) const { return static_cast<double>(n) * (std::log(static_cast<double>(stddev)) - 0.5); }
};

NormalPrior priorAttrs(TF_OpKernelConstruction* ctx) { return NormalPrior{floatAttr(ctx, "prior_mean"), floatAttr(ctx, "prior_stddev")}; }
void* createPrior(TF_OpKernelConstruction* ctx) { return new NormalPrior(priorAttrs(ctx)); }
void deletePrior(void* kernel) { delete static_cast<NormalPrior*>(kernel); }


void computeNormalKl(void* kernel, TF_OpKernelContext* ctx) {
  const NormalPrior prior = *static_cast<NormalPrior*>(kernel);
  Status status;
  Input loc(ctx, 0, status), sigma(ctx, 1, status);
  if (!status.ok()) return TF_OpKernelContext_Failure(ctx, status.s);
  if (loc.size() != sigma.size()) return fail(ctx, "loc and sigma must have the same size");
  float* out = allocate(ctx, 0, {}, status);
  if (!out) return TF_OpKernelContext_Failure(ctx, status.s);
  const int64_t n = loc.size();
  const float* mu = loc.floats();
  const float* sd = sigma.floats();
  std::vector<double> partial((n + kBlock - 1) / kBlock);
  parallelFor(n, kBlock, [&](int64_t begin, int64_t end) {
    const ConstArray sigmaBlock(sd + begin, end - begin);
    partial[begin / kBlock] = prior.squares(ConstArray(mu + begin, end - begin), sigmaBlock) - static_cast<double>(sigmaBlock.log().sum());
  });
  *out = static_cast<float>(sumInOrder(partial) + prior.constant(n));
}

// Inputs dy (scalar), loc, sigma; outputs dloc = dy (μ − m) / s², dsigma = dy (σ / s² − 1 / σ).
void computeNormalKlGrad(void* kernel, TF_OpKernelContext* ctx) {
  const NormalPrior prior = *static_cast<NormalPrior*>(kernel);
  Status status;
  Input dy(ctx, 0, status), loc(ctx, 1, status), sigma(ctx, 2, status);
  if (!status.ok()) return TF_OpKernelContext_Failure(ctx, status.s);
  if (dy.size() != 1 || loc.size() != sigma.size()) return fail(ctx, "dy must be a scalar and loc, sigma of one size");
  float* dloc = allocate(ctx, 0, loc.dims(), status);
  float* dsigma = dloc ? allocate(ctx, 1, sigma.dims(), status) : nullptr;
  if (!dsigma) return TF_OpKernelContext_Failure(ctx, status.s);
  const float g = dy.floats()[0];
  const float scale = g / (prior.stddev * prior.stddev);
  const float* mu = loc.floats();
  const float* sd = sigma.floats();
  parallelFor(loc.size(), kBlock, [&](int64_t begin, int64_t end) {
    const int64_t len = end - begin;
    ConstArray m(mu + begin, len), s(sd + begin, len);
    Array(dloc + begin, len) = (m - prior.mean) * scale;
    Array(dsigma + begin, len) = s * scale - g / s;
  });
}

// ---------------------------------------------------------------------------------------------
// A training step's draw from a mean-field Normal kernel posterior under a Normal prior: the
// perturbation ΔW = σ ⊙ ε (ε from the seed, as NormalNoise) and the KL, in one op; its gradient
// in one pass. This replaces the Sigma, NormalNoise, Mul, NormalKl ops forward and NormalKlGrad,
// Mul, AddN, SoftplusGrad backward.
//
// With ε = ΔW / σ, ρ's gradient is (dΔW ⊙ ΔW − dkl) ⊙ sigmoid(ρ)/σ + dkl/s² ⊙ σ sigmoid(ρ): the
// draw, which has σ and e^−|ρ| at hand, keeps those two factors for the gradient op
// (GradientFactors), so the gradient computes no exp or log. They are not outputs: tfjs would
// feed each a gradient of zeros, a tensor of the kernel's size, every step.

// Σ log x over positive normal floats (σ ≥ SIGMA_FLOOR here, far above the subnormals): the
// exponents summed exactly and the mantissas, in [1, 2), multiplied in double (at most 2^128 in a
// lane) — 32 logarithms a block instead of one a value, and no less accurate. 32 lanes so that the
// compiler keeps four vectors of products in flight, not one waiting on the last multiply.
double sumLogNormal(const float* x, int64_t len) {
  constexpr int kProducts = 32;
  static_assert(kBlock / kProducts <= 1023, "a lane's product must stay below 2^1024");
  double product[kProducts];
  int32_t exponents[kProducts];
  for (int k = 0; k < kProducts; k++) {
    product[k] = 1;
    exponents[k] = 0;
  }
  auto take = [&](int k, const float* value) {
    uint32_t bits;
    std::memcpy(&bits, value, sizeof bits);
    exponents[k] += static_cast<int32_t>(bits >> 23) - 127;
    const uint32_t mantissaBits = (bits & 0x7fffffu) | 0x3f800000u;
    float mantissa;
    std::memcpy(&mantissa, &mantissaBits, sizeof mantissa);
    product[k] *= mantissa;
  };
  int64_t i = 0;
  for (; i + kProducts <= len; i += kProducts) {
    for (int k = 0; k < kProducts; k++) take(k, x + i + k);
  }
  for (int k = 0; k < len - i; k++) take(k, x + i + k);
  int64_t exponent = 0;
  double logs = 0;
  for (int k = 0; k < kProducts; k++) {
    exponent += exponents[k];
    logs += std::log(product[k]);
  }
  return logs + static_cast<double>(exponent) * 0.6931471805599453;
}

// A fingerprint of ρ's bits: a sum of each value's bits mixed with its index, modulo 2^64, so that
// the units of a parallelFor may add theirs in any order. It tells the gradient op that the
// factors it found were drawn from its ρ.
uint64_t fingerprint(const float* x, int64_t begin, int64_t end) {
  uint64_t sum = 0;
  for (int64_t i = begin; i < end; i++) {
    uint32_t bits;
    std::memcpy(&bits, x + i, sizeof bits);
    uint64_t mixed = ((static_cast<uint64_t>(bits) << 32) | static_cast<uint32_t>(i)) * 0x9e3779b97f4a7c15u;
    sum += (mixed ^ (mixed >> 29)) * 0xbf58476d1ce4e5b9u;
  }
  return sum;
}

// The factors of ρ's gradient a draw keeps for its gradient op, by ρ's buffer (in tfjs a tensor's
// buffer never changes, and tfjs holds the draw's ρ until the gradient ran) and ρ's fingerprint.
// The gradient op takes its entry; one that finds none (evicted, or its draw's ρ changed) computes
// the factors again. Used entries are kept as spares, their pages already mapped: a new 2 MB
// buffer faults in every page. Entries and spares together stay within kBytes, oldest dropped first.
class GradientFactors {
 public:
  struct Entry {
    const float* rho = nullptr;
    float floor = 0;
    uint64_t fingerprint = 0;
    std::vector<float> overSigma, timesSigma;
    int64_t size() const { return static_cast<int64_t>(overSigma.size()); }
  };
  using Kept = std::unique_ptr<Entry>;

  static GradientFactors& instance() {
    static GradientFactors* factors = new GradientFactors;
    return *factors;
  }

  // An entry to fill for n weights (a spare if there is one); null if n alone exceeds the budget.
  Kept blank(int64_t n) {
    if (bytesOf(n) > kBytes) return nullptr;
    std::lock_guard<std::mutex> lock(mutex_);
    Kept entry;
    if (spares_.empty()) {
      entry = std::make_unique<Entry>();
    } else {
      entry = std::move(spares_.back());
      spares_.pop_back();
    }
    entry->overSigma.resize(n);
    entry->timesSigma.resize(n);
    return entry;
  }

  void keep(Kept entry) {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto it = kept_.begin(); it != kept_.end(); ++it) {
      if ((*it)->rho == entry->rho) {  // a draw of the same ρ whose gradient never ran
        spares_.push_back(std::move(*it));
        kept_.erase(it);
        break;
      }
    }
    kept_.push_back(std::move(entry));
    trim();
  }

  Kept take(const float* rho, int64_t n, float floor) {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto it = kept_.begin(); it != kept_.end(); ++it) {
      if ((*it)->rho == rho && (*it)->size() == n && (*it)->floor == floor) {
        Kept entry = std::move(*it);
        kept_.erase(it);
        return entry;
      }
    }
    return nullptr;
  }

  void recycle(Kept entry) {
    if (!entry) return;
    std::lock_guard<std::mutex> lock(mutex_);
    spares_.push_back(std::move(entry));
    trim();
  }

 private:
  // A bound on the memory kept: factors for 32M weights.
  static constexpr int64_t kBytes = int64_t{256} << 20;
  static int64_t bytesOf(int64_t n) { return 2 * n * static_cast<int64_t>(sizeof(float)); }

  void trim() {
    int64_t bytes = 0;
    for (const Kept& e : kept_) bytes += bytesOf(static_cast<int64_t>(e->overSigma.capacity()));
    for (const Kept& e : spares_) bytes += bytesOf(static_cast<int64_t>(e->overSigma.capacity()));
    while (bytes > kBytes && !spares_.empty()) {
      bytes -= bytesOf(static_cast<int64_t>(spares_.front()->overSigma.capacity()));
      spares_.erase(spares_.begin());
    }
    while (bytes > kBytes && !kept_.empty()) {
      bytes -= bytesOf(static_cast<int64_t>(kept_.front()->overSigma.capacity()));
      kept_.pop_front();
    }
  }

  std::mutex mutex_;
  std::deque<Kept> kept_;
  std::vector<Kept> spares_;
};

struct PosteriorAttrs {
  float floor;
  NormalPrior prior;
};

void* createPosterior(TF_OpKernelConstruction* ctx) { return new PosteriorAttrs{floatAttr(ctx, "floor"), priorAttrs(ctx)}; }
void deletePosterior(void* kernel) { delete static_cast<PosteriorAttrs*>(kernel); }

// Inputs loc, rho, seed; outputs perturbation, kl and loc again (the same buffer, no copy): the
// layer computes with that loc, so the gradient of its uses arrives here, and the gradient op adds
// the KL's share in its one pass instead of tfjs adding the two in another. The threads take noise
// chunks in turn and, while a chunk is in cache, its σ, its share of the KL, its product and the
// gradient's factors.
void computePosteriorDraw(void* kernel, TF_OpKernelContext* ctx) {
  const PosteriorAttrs attrs = *static_cast<PosteriorAttrs*>(kernel);
  Status status;
  Input loc(ctx, 0, status), rho(ctx, 1, status), seed(ctx, 2, status);
  if (!status.ok()) return TF_OpKernelContext_Failure(ctx, status.s);
  if (loc.size() != rho.size() || seed.size() != 1) return fail(ctx, "loc and rho must have one size and seed be a scalar");
  float* out = allocate(ctx, 0, rho.dims(), status);
  float* klOut = out ? allocate(ctx, 1, {}, status) : nullptr;
  if (!klOut) return TF_OpKernelContext_Failure(ctx, status.s);
  const int64_t n = rho.size();
  const float* mu = loc.floats();
  const float* r = rho.floats();
  GradientFactors::Kept factors = GradientFactors::instance().blank(n);
  std::vector<double> partial(chunkCount(n));
  std::atomic<uint64_t> print{0};
  parallelFor(n, kNormalChunk, [&](int64_t begin, int64_t end) {
    fillNormalChunk(out + begin, end - begin, chunkSeed(static_cast<uint32_t>(seed.ints()[0]), begin / kNormalChunk));
    double sum = 0;
    float sigma[kBlock];
    for (int64_t b = begin; b < end; b += kBlock) {
      const int64_t len = std::min(kBlock, end - b);
      if (factors) {
        sigmaBlock(r + b, len, attrs.floor, sigma, factors->overSigma.data() + b, factors->timesSigma.data() + b);
      } else {
        sigmaBlock(r + b, len, attrs.floor, sigma);
      }
      ConstArray s(sigma, len);
      sum += attrs.prior.squares(ConstArray(mu + b, len), s) - sumLogNormal(sigma, len);
      Array(out + b, len) *= s;
    }
    partial[begin / kNormalChunk] = sum;
    if (factors) print += fingerprint(r, begin, end);
  });
  *klOut = static_cast<float>(sumInOrder(partial) + attrs.prior.constant(n));
  if (factors) {
    factors->rho = r;
    factors->floor = attrs.floor;
    factors->fingerprint = print;
    GradientFactors::instance().keep(std::move(factors));
  }
  TF_SetOutput(ctx, 2, loc.t, status.s);
  if (!status.ok()) TF_OpKernelContext_Failure(ctx, status.s);
}

// Inputs dperturbation, dkl (scalar), dloc (of the loc output), loc, rho, perturbation; outputs
// dloc + dkl (μ − m) / s², and drho (above), with the draw's factors where it kept them.
void computePosteriorDrawGrad(void* kernel, TF_OpKernelContext* ctx) {
  const PosteriorAttrs attrs = *static_cast<PosteriorAttrs*>(kernel);
  Status status;
  Input dDraw(ctx, 0, status), dKl(ctx, 1, status), dLocUse(ctx, 2, status), loc(ctx, 3, status), rho(ctx, 4, status),
      draw(ctx, 5, status);
  if (!status.ok()) return TF_OpKernelContext_Failure(ctx, status.s);
  const int64_t n = rho.size();
  if (dKl.size() != 1 || loc.size() != n || dDraw.size() != n || dLocUse.size() != n || draw.size() != n) {
    return fail(ctx, "dkl must be a scalar and dperturbation, dloc, loc, rho, perturbation of one size");
  }
  float* dLoc = allocate(ctx, 0, loc.dims(), status);
  float* dRho = dLoc ? allocate(ctx, 1, rho.dims(), status) : nullptr;
  if (!dRho) return TF_OpKernelContext_Failure(ctx, status.s);
  const float g = dKl.floats()[0];
  const float scale = g / (attrs.prior.stddev * attrs.prior.stddev);
  const float* r = rho.floats();
  GradientFactors::Kept factors = GradientFactors::instance().take(r, n, attrs.floor);
  // Computes the outputs with the kept factors or, with none, factors computed again; returns ρ's
  // fingerprint where it used kept ones.
  auto pass = [&](const GradientFactors::Entry* kept) {
    std::atomic<uint64_t> print{0};
    parallelFor(n, kBlock, [&](int64_t begin, int64_t end) {
      float sigma[kBlock], overSigma[kBlock], timesSigma[kBlock];
      for (int64_t b = begin; b < end; b += kBlock) {
        const int64_t len = std::min(kBlock, end - b);
        if (!kept) sigmaBlock(r + b, len, attrs.floor, sigma, overSigma, timesSigma);
        ConstArray over(kept ? kept->overSigma.data() + b : overSigma, len), times(kept ? kept->timesSigma.data() + b : timesSigma, len);
        ConstArray m(loc.floats() + b, len), dw(dDraw.floats() + b, len), w(draw.floats() + b, len), dm(dLocUse.floats() + b, len);
        Array(dRho + b, len) = (dw * w - g) * over + times * scale;
        Array(dLoc + b, len) = dm + (m - attrs.prior.mean) * scale;
      }
      if (kept) print += fingerprint(r, begin, end);
    });
    return print.load();
  };
  if (factors && pass(factors.get()) == factors->fingerprint) return GradientFactors::instance().recycle(std::move(factors));
  GradientFactors::instance().recycle(std::move(factors));
  pass(nullptr);
}

// ---------------------------------------------------------------------------------------------
// Registration.

void unknownShape(TF_ShapeInferenceContext* ctx, TF_Status* status) { TF_ShapeInferenceContextSetUnknownShape(ctx, status); }

bool registerOp(const char* name, std::initializer_list<const char*> inputs, std::initializer_list<const char*> outputs,
                std::initializer_list<const char*> attrs, void* (*create)(TF_OpKernelConstruction*),
                void (*compute)(void*, TF_OpKernelContext*), void (*destroy)(void*)) {
  Status status;
  TF_OpDefinitionBuilder* op = TF_NewOpDefinitionBuilder(name);
  for (const char* in : inputs) TF_OpDefinitionBuilderAddInput(op, in);
  for (const char* out : outputs) TF_OpDefinitionBuilderAddOutput(op, out);
  for (const char* attr : attrs) TF_OpDefinitionBuilderAddAttr(op, attr);
  TF_OpDefinitionBuilderSetIsStateful(op, false);
  TF_OpDefinitionBuilderSetShapeInferenceFunction(op, &unknownShape);
  TF_RegisterOpDefinition(op, status.s);
  if (!status.ok()) return false;
  TF_KernelBuilder* kernel = TF_NewKernelBuilder(name, "CPU", create, compute, destroy);
  TF_RegisterKernelBuilder(name, kernel, status.s);
  return status.ok();
}

void* noAttrs(TF_OpKernelConstruction*) { return nullptr; }
void noDelete(void*) {}

// The ops, registered once per process (a second load of the addon finds them registered).
bool registerAll() {
  static const bool registered =
      registerOp("TfjsTrustNormalNoise", {"shape: int32", "seed: int32"}, {"output: float"}, {}, noAttrs,
                 computeNormalNoise, noDelete) &&
      registerOp("TfjsTrustRademacherNoise", {"shape: int32", "seed: int32"}, {"output: float"}, {}, noAttrs,
                 computeRademacherNoise, noDelete) &&
      registerOp("TfjsTrustFlipSigns", {"t: float", "seed: int32"}, {"output: float"}, {}, noAttrs, computeFlipSigns, noDelete) &&
      registerOp("TfjsTrustSigma", {"rho: float"}, {"sigma: float"}, {"floor: float"}, createSigma, computeSigma, deleteSigma) &&
      registerOp("TfjsTrustNormalKl", {"loc: float", "sigma: float"}, {"kl: float"}, {"prior_mean: float", "prior_stddev: float"},
                 createPrior, computeNormalKl, deletePrior) &&
      registerOp("TfjsTrustNormalKlGrad", {"dy: float", "loc: float", "sigma: float"}, {"dloc: float", "dsigma: float"},
                 {"prior_mean: float", "prior_stddev: float"}, createPrior, computeNormalKlGrad, deletePrior) &&
      registerOp("TfjsTrustNormalPosteriorDraw", {"loc: float", "rho: float", "seed: int32"},
                 {"perturbation: float", "kl: float", "loc_out: float"},
                 {"floor: float", "prior_mean: float", "prior_stddev: float"}, createPosterior, computePosteriorDraw, deletePosterior) &&
      registerOp("TfjsTrustNormalPosteriorDrawGrad",
                 {"dperturbation: float", "dkl: float", "dloc: float", "loc: float", "rho: float", "perturbation: float"},
                 {"dloc_total: float", "drho: float"},
                 {"floor: float", "prior_mean: float", "prior_stddev: float"}, createPosterior, computePosteriorDrawGrad, deletePosterior);
  return registered;
}

}  // namespace

// exports.registered: whether TensorFlow accepted the ops.
NAPI_MODULE_INIT() {
  napi_value registered;
  napi_get_boolean(env, registerAll(), &registered);
  napi_set_named_property(env, exports, "registered", registered);
  return exports;
}
