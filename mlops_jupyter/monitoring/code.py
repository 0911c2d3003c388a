"""Code updates count too (#17): a changed bundle is re-run on its own data, the model it fits is
registered and gated against the champion on the champion's stored evaluation rows, then
promoted (policy ``auto``) or proposed, as a retrain on new data would be.

``mlops-jupyter verify`` tells whether a bundle still reproduces; ``propose`` asks whether the
changed one is better than what is in production.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InvalidInput, RegistryError
from ..store.base import dumps


@dataclass(frozen=True)
class CodeProposal:
    """What ``propose`` did: the version registered from the bundle and the decision."""

    model: str
    alias: str
    champion: int
    version: int
    run_id: str
    status: str  # retrained (gates failed) | proposed | promoted
    promotion: Any  # PromotionResult
    proposal_id: int | None
    action: str

    @property
    def exit_code(self) -> int:
        """0 proposed or promoted, 1 the gates failed."""
        return 0 if self.status != "retrained" else 1

    def summary(self) -> str:
        return (
            f"{self.model}: v{self.version} from the bundle (run {self.run_id}) against "
            f"v{self.champion} ({self.alias}). {self.action}"
        )

    def __repr__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        from ..display.monitor import code_proposal_html

        return code_proposal_html(self)


def _training_features(bundle: Path, features: list[str]) -> Any:
    """The features of the bundle's only input file, when it has them (for the drift gate)."""
    from ..analysis.datadiff import read_table
    from ..export.bundle import load_manifest
    from ..export.execute import data_root

    manifest = load_manifest(bundle)
    inputs = manifest.get("inputs", [])
    if len(inputs) != 1:
        return None
    path = data_root(bundle, manifest) / str(inputs[0]["path"])
    frame = read_table(path) if path.is_file() else None
    if frame is None or not all(c in frame.columns for c in features):
        return None
    return frame[features]


def propose(
    model: str,
    bundle: str | None = None,
    *,
    policy: Any = None,
    by: str | None = None,
    store: Any = None,
    progress: bool = False,
) -> CodeProposal:
    """Re-run a changed ``bundle`` (inputs checked against its manifest), register the model it
    fits, gate it against ``model``'s alias holder on the holder's evaluation rows, and promote
    or propose it as the policy says."""
    from ..export.execute import run_bundle
    from ..registry.audit import current_user
    from ..registry.evaldata import read_snapshot
    from ..registry.versions import check_name, register_model, require_model, resolve_store
    from .checks import features_of, unrecorded
    from .decide import decide, sync_gates
    from .policy import load_policy
    from .retrain import load_fitted

    st = resolve_store(store)
    name = check_name(model)
    require_model(st, name)
    pol = load_policy(policy)
    folder = Path(bundle) if bundle else None
    if folder is None and pol["retrain"]["bundle"]:
        folder = Path(pol["retrain"]["bundle"])
    if folder is None or not folder.is_dir():
        raise InvalidInput(
            f"No bundle folder {folder or '(none given)'} to propose from. Pass --bundle DIR "
            "(a folder written by `mlops-jupyter export`), or set retrain.bundle in the policy."
        )
    alias = pol["alias"]
    held = st.find_alias_holder(name, alias)
    if held is None:
        raise RegistryError(
            f"No version of {name!r} holds {alias!r}, so there is no champion to propose "
            f"against. Promote one first: `mlops-jupyter promote {name} VERSION --to {alias}`."
        )
    holder = st.get_model_version(name, held)
    snap_row = st.find_eval_dataset(holder.get("eval_fingerprint"))
    if snap_row is None or not snap_row["target_column"]:
        raise InvalidInput(
            f"v{held} of {name!r} has no stored evaluation rows with targets to compare on. "
            "Register the champion with eval_data=(X, y)."
        )
    who = current_user(by)
    sync_gates(st, name, pol, who)
    with unrecorded():
        champion_features = features_of(st, holder, _load(st, holder))
        run = run_bundle(folder, store=st, progress=progress)
        if not run.run_id:
            raise InvalidInput(
                f"The bundle {folder} recorded no run. Check that its first cell is "
                "%load_ext mlops_jupyter."
            )
        fitted = load_fitted(st, run.run_id, holder)
        snap = read_snapshot(st, snap_row)
        registered = register_model(
            fitted,
            name,
            eval_data=(snap.X, snap.y),
            train_data=_training_features(folder.resolve(), champion_features),
            run=run.run_id,
            store=st,
            by=who,
        )
        version = int(registered["version"])
        details = {"bundle": str(folder.resolve()), "run_id": run.run_id, "code_update": True}
        st.append_audit(
            {
                "action": "code_update",
                "who": who,
                "name": name,
                "from_version": held,
                "to_version": version,
                "alias": alias,
                "reason": f"fitted by the bundle {folder.name}",
                "details": dumps(details),
            }
        )
        decision = decide(
            st,
            name=name,
            alias=alias,
            version=version,
            from_version=held,
            policy=pol,
            who=who,
            reason=f"code update: the bundle {folder.name}",
            details=details,
        )
    return CodeProposal(
        model=name,
        alias=alias,
        champion=held,
        version=version,
        run_id=run.run_id,
        status=decision.status,
        promotion=decision.promotion,
        proposal_id=decision.proposal_id,
        action=decision.action,
    )


def _load(st: Any, row: dict[str, Any]) -> Any:
    from ..registry.versions import load_version

    return load_version(st, row)
