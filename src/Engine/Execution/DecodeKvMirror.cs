using TorchSharp;
using static TorchSharp.torch;

namespace Rollout.Engine.Execution;

/// <summary>
/// The decode batch's keys and values kept gathered between steps, per layer in one padded
/// [rows, capacity, kv_heads, head_dim] buffer, sequence i of the step in row i. Gathering every decoding sequence's blocks
/// from the paged cache copies the batch's whole KV each step (at batch 256, more time than all the
/// matmuls); while the same sequences keep decoding, a step only appends each one's new token
/// here. A changed batch is gathered afresh. The price is a second copy of the decoding KV.
/// </summary>
internal sealed class DecodeKvMirror : IDisposable
{
    readonly int _layers;
    Tensor[] _keys = [];
    Tensor[] _values = [];
    long[] _ids = [];
    long[] _lengths = [];
    long _capacity;
    long _rows;

    public DecodeKvMirror(int layers) => _layers = layers;

    public long Capacity => _capacity;

    /// <summary>
    /// Takes the step's decoding sequences; true when the mirror already holds all but their newest
    /// token, so appending suffices; false when the caller must gather into it afresh.
    /// </summary>
    public bool Prepare(IReadOnlyList<StepSequence> decodes, long maxLength, long kvHeads, long headDim, ScalarType dtype, Device device)
    {
        bool continues = decodes.Count == _ids.Length && maxLength <= _capacity;
        for (int i = 0; continues && i < decodes.Count; i++)
            continues = decodes[i].SequenceId == _ids[i] && decodes[i].ContextLength == _lengths[i] + 1;
        _ids = decodes.Select(d => d.SequenceId).ToArray();
        _lengths = decodes.Select(d => (long)d.ContextLength).ToArray();
        if (continues) return true;
        if (_keys.Length == 0 || decodes.Count > _rows || maxLength > _capacity)
        {
            Release();
            // Only ever grows, with headroom, so a batch that keeps decoding is not reallocated every few tokens.
            _rows = Math.Max(_rows, decodes.Count);
            _capacity = Math.Max(_capacity, (maxLength + 128 + 63) / 64 * 64);
            _keys = Allocate(kvHeads, headDim, dtype, device);
            _values = Allocate(kvHeads, headDim, dtype, device);
        }
        return false;
    }

    public Tensor Keys(int layer) => _keys[layer];
    public Tensor Values(int layer) => _values[layer];

    // Zeros, not garbage: attention masks the padding, but a masked weight of 0 times a NaN is still NaN.
    Tensor[] Allocate(long kvHeads, long headDim, ScalarType dtype, Device device) =>
        Enumerable.Range(0, _layers)
            .Select(_ => zeros([_rows, _capacity, kvHeads, headDim], dtype, device).DetachFromDisposeScope())
            .ToArray();

    void Release()
    {
        foreach (var t in _keys.Concat(_values)) t.Dispose();
        _keys = [];
        _values = [];
    }

    public void Dispose()
    {
        Release();
        _ids = [];
    }
}
