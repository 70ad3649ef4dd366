using Rollout.Models;
using Rollout.Models.Layers;
using TorchSharp;

namespace Rollout.WeightSync.Receiver;

/// <summary>
/// Where each name an update may use lands in the engine's model: every HF-named tensor (views into
/// the fused q/k/v and gate/up parameters included) and every fused parameter under its own name, which
/// stands for the HF tensors it holds. Checks a manifest against them before any byte is staged.
/// </summary>
internal sealed class WeightTargets
{
    readonly Dictionary<string, torch.Tensor> _byName = new(StringComparer.Ordinal);
    readonly Dictionary<string, string[]> _covers = new(StringComparer.Ordinal);

    public WeightTargets(TransformerModel model)
    {
        Model = model;
        HfNames = model.CheckpointTensors().Keys.ToHashSet(StringComparer.Ordinal);
        foreach (var (name, tensor) in model.CheckpointTensors())
        {
            _byName[name] = tensor;
            _covers[name] = [name];
        }
        foreach (var (name, parameter) in model.Parameters())
        {
            if (_byName.ContainsKey(name)) continue;
            _byName[name] = parameter;
            _covers[name] = ParameterFusion.Split(name, parameter, model.Config).Select(p => p.Key).ToArray();
        }
    }

    public TransformerModel Model { get; }

    /// <summary>The model's tensors by HF name: what a full update must cover, and what the digest hashes.</summary>
    public IReadOnlySet<string> HfNames { get; }

    public torch.Tensor this[string name] => _byName[name];

    /// <summary>The HF names a manifest entry stands for.</summary>
    public IReadOnlyList<string> Covers(string name) => _covers[name];

    /// <summary>Throws unless every entry names a tensor of the model once, with its shape, a float dtype and the matching byte length, and a full update covers them all.</summary>
    public void Check(UpdateManifest manifest)
    {
        if (manifest.Tensors.Count == 0) throw new WeightUpdateException("the manifest names no tensor");
        var covered = new HashSet<string>(StringComparer.Ordinal);
        foreach (var spec in manifest.Tensors)
        {
            if (spec.Name is null || !_byName.TryGetValue(spec.Name, out var target))
                throw new WeightUpdateException($"'{spec.Name}' is not a tensor of {Model.Config.Architecture}");
            foreach (string hf in _covers[spec.Name])
                if (!covered.Add(hf)) throw new WeightUpdateException($"'{hf}' is named twice in the manifest (directly or through a fused tensor)");
            if (spec.Shape is null || !spec.Shape.SequenceEqual(target.shape))
                throw new WeightUpdateException($"'{spec.Name}' has shape [{string.Join(", ", spec.Shape ?? [])}] but the model's is [{string.Join(", ", target.shape)}]");
            var type = WeightDType.Parse(spec.DType, spec.Name);
            long expected = target.numel() * WeightDType.Size(type);
            if (spec.ByteLength != expected)
                throw new WeightUpdateException($"'{spec.Name}' announces {spec.ByteLength} bytes; [{string.Join(", ", spec.Shape)}] of {spec.DType} is {expected}");
        }
        if (!manifest.Partial && covered.Count != HfNames.Count)
        {
            var missing = HfNames.Where(n => !covered.Contains(n)).Order(StringComparer.Ordinal).ToList();
            throw new WeightUpdateException($"a full update must name every tensor; it lacks {missing.Count}: {string.Join(", ", missing.Take(5))}{(missing.Count > 5 ? ", ..." : "")}");
        }
    }
}
