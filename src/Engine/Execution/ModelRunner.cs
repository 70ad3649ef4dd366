using Rollout.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Rollout.Engine.Execution;

/// <summary>
/// Executes one engine step: packs the scheduled sequences' new tokens into one varlen batch
/// (fewest new tokens first, as <see cref="PagedAttention"/> wants them), runs the model over the paged KV cache, and returns the hidden states of the rows
/// a head reads, in the order the sequences were given. Which head, and what it makes of them, is the
/// caller's business.
/// </summary>
internal sealed class ModelRunner
{
    readonly TransformerModel _model;
    readonly PagedKvTensors _kv;
    readonly Device _device;
    readonly int?[] _windows;
    readonly bool _fastKernels;
    readonly bool _batchInvariant;

    public ModelRunner(TransformerModel model, PagedKvTensors kv)
    {
        _fastKernels = model.Options.FastCpuKernels;
        _batchInvariant = model.Options.BatchInvariant;
        _model = model;
        _kv = kv;
        _device = model.Options.Device;
        _windows = Enumerable.Range(0, model.Config.NumHiddenLayers).Select(model.Config.WindowOfLayer).ToArray();
    }

    /// <summary>
    /// Runs <paramref name="sequences"/> and returns hidden states [sum of LogitRows, hidden]: for each
    /// sequence in the given order, its last LogitRows fed positions. The caller owns the result.
    /// </summary>
    public Tensor Run(IReadOnlyList<StepSequence> sequences)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var order = Enumerable.Range(0, sequences.Count).OrderBy(i => sequences[i].TokenIds.Count).ToArray();
        var packed = order.Select(i => sequences[i]).ToArray();
        var ids = new List<long>();
        var positions = new List<long>();
        var rowOfPacked = new long[sequences.Count][];
        foreach (int i in order)
        {
            var s = sequences[i];
            int first = ids.Count;
            for (int t = 0; t < s.TokenIds.Count; t++)
            {
                ids.Add(s.TokenIds[t]);
                positions.Add(s.StartPosition + t);
            }
            rowOfPacked[i] = Enumerable.Range(first + s.TokenIds.Count - s.LogitRows, s.LogitRows).Select(r => (long)r).ToArray();
        }
        var batch = new ForwardBatch(
            tensor(ids.ToArray(), device: _device),
            tensor(positions.ToArray(), device: _device),
            new PagedAttention(_kv, packed, _windows, _device, _fastKernels, _batchInvariant));
        var hidden = _model.Forward(batch);
        var rows = tensor(rowOfPacked.SelectMany(r => r).ToArray(), device: _device);
        return hidden.index_select(0, rows).MoveToOuterDisposeScope();
    }
}
