from workflows.models.approvals import ApprovalEntry, ApprovalGate, ApprovalInvitation
from workflows.models.manual_checks import ManualCheck
from workflows.models.projects import MergeStrategy, Project
from workflows.models.runs import Checkpoint, Event, Run, Step
from workflows.models.templates import TemplateVersion, WorkflowTemplate
from workflows.models.workers import WorkerCluster

__all__ = [
    "ApprovalEntry",
    "ApprovalGate",
    "ApprovalInvitation",
    "Checkpoint",
    "Event",
    "ManualCheck",
    "MergeStrategy",
    "Project",
    "Run",
    "Step",
    "TemplateVersion",
    "WorkerCluster",
    "WorkflowTemplate",
]
