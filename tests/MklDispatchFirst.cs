using System.Runtime.CompilerServices;
using Rollout.Models.Native;

namespace Rollout.TestProcess;

/// <summary>
/// MKL settles its kernels at the first matrix product in a process; a test process applies the
/// vendor-check redirect before any test runs, as products do before their first model, so that
/// every test sees the kernels a product runs whichever test happens to come first.
/// </summary>
internal static class MklDispatchFirst
{
#pragma warning disable CA2255 // a test assembly is an entry point here, not a library
    [ModuleInitializer]
    internal static void Apply() => MklCpuDispatch.Apply();
#pragma warning restore CA2255
}
