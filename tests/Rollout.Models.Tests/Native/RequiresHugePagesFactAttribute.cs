namespace Rollout.Models.Tests.Native;

/// <summary>A fact about transparent huge pages: skipped, with the reason printed, where the system gives none to a process that asks.</summary>
public sealed class RequiresHugePagesFactAttribute : FactAttribute
{
    const string Setting = "/sys/kernel/mm/transparent_hugepage/enabled";

    /// <summary>Sets <see cref="FactAttribute.Skip"/> unless Linux's transparent huge pages are at <c>madvise</c> or <c>always</c>.</summary>
    public RequiresHugePagesFactAttribute()
    {
        string? setting = OperatingSystem.IsLinux() && File.Exists(Setting) ? File.ReadAllText(Setting).Trim() : null;
        if (setting is null) Skip = $"no transparent huge pages here ({Setting} is absent)";
        else if (!setting.Contains("[madvise]") && !setting.Contains("[always]")) Skip = $"transparent huge pages are off here ({Setting}: {setting})";
    }
}
