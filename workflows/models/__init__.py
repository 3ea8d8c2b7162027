from workflows.models.approvals import ApprovalEntry, ApprovalGate, ApprovalInvitation
from workflows.models.manual_checks import ManualCheck
from workflows.models.projects import ImplicitEvidence, MergeStrategy, Project, PrProvider
from workflows.models.runs import Checkpoint, Event, Run, Step
from workflows.models.templates import BuiltinTemplateSet, TemplateVersion, WorkflowTemplate
from workflows.models.usage import AgentUsage
from workflows.models.workers import WorkerCluster

__all__ = [
    "AgentUsage",
    "ApprovalEntry",
    "ApprovalGate",
    "ApprovalInvitation",
    "BuiltinTemplateSet",
    "Checkpoint",
    "Event",
    "ManualCheck",
    "MergeStrategy",
    "PrProvider",
    "ImplicitEvidence",
    "Project",
    "Run",
    "Step",
    "TemplateVersion",
    "WorkerCluster",
    "WorkflowTemplate",
]
