//! Actions: private actions (longitudinal, lateral, teleport, routing,
//! controller) with their dynamics, and global actions (environment,
//! entities, parameters).

use roxmltree::Node;

use super::{R, Reader, elements};
use crate::model::*;

impl<'d, 'i> Reader<'d, 'i> {
    /// A PrivateAction; `None` for one skipped under the lenient option.
    pub(super) fn private_action(&mut self, n: Node<'d, 'i>) -> R<Option<PrivateAction>> {
        let c = self.choice(n)?;
        Ok(match c.tag_name().name() {
            "LongitudinalAction" => self.longitudinal_action(c)?,
            "LateralAction" => self.lateral_action(c)?,
            "TeleportAction" => Some(PrivateAction::Teleport(self.position_in(c)?)),
            "RoutingAction" => self.routing_action(c)?,
            "ActivateControllerAction" => Some(self.activate(c)?),
            "ControllerAction" => self.controller_action(c)?,
            "VisibilityAction" => Some(PrivateAction::Accepted("VisibilityAction")),
            "AppearanceAction" => Some(PrivateAction::Accepted("AppearanceAction")),
            _ => {
                self.unsupported(c, "this private action")?;
                None
            }
        })
    }

    /// A LongitudinalAction: a speed or a distance to another entity.
    fn longitudinal_action(&mut self, c: Node<'d, 'i>) -> R<Option<PrivateAction>> {
        let a = self.choice(c)?;
        Ok(Some(match a.tag_name().name() {
            "SpeedAction" => {
                let d = self.dynamics(self.req_child(a, "SpeedActionDynamics")?)?;
                let t = self.choice(self.req_child(a, "SpeedActionTarget")?)?;
                let target = match t.tag_name().name() {
                    "AbsoluteTargetSpeed" => SpeedTarget::Absolute(self.num(t, "value")?),
                    "RelativeTargetSpeed" => SpeedTarget::Relative {
                        entity: self.string(t, "entityRef")?,
                        value: self.num(t, "value")?,
                        factor: match self.string(t, "speedTargetValueType")?.as_str() {
                            "delta" => false,
                            "factor" => true,
                            other => {
                                return Err(
                                    self.err(t, format!("unknown speedTargetValueType {other:?}"))
                                );
                            }
                        },
                        continuous: self.bool_or(t, "continuous", false)?,
                    },
                    _ => {
                        self.unsupported(t, "this speed target")?;
                        return Ok(None);
                    }
                };
                PrivateAction::Speed {
                    dynamics: d,
                    target,
                }
            }
            "LongitudinalDistanceAction" => {
                let distance = self.opt_num(a, "distance")?;
                let gap = self.opt_num(a, "timeGap")?;
                let (value, time_gap) = match (distance, gap) {
                    (Some(d), None) => (d, false),
                    (None, Some(g)) => (g, true),
                    _ => {
                        return Err(self.err(a, "give exactly one of distance and timeGap"));
                    }
                };
                if let Some(cs) = self.opt_string(a, "coordinateSystem")?
                    && cs != "entity"
                    && cs != "road"
                    && cs != "lane"
                {
                    self.unsupported(a, &format!("coordinateSystem {cs:?}"))?;
                }
                let leading = match self
                    .opt_string(a, "displacement")?
                    .as_deref()
                    .unwrap_or("trailingReferencedEntity")
                {
                    "leadingReferencedEntity" => true,
                    "trailingReferencedEntity" | "any" => false,
                    other => {
                        return Err(self.err(a, format!("unknown displacement {other:?}")));
                    }
                };
                PrivateAction::LongitudinalDistance {
                    entity: self.string(a, "entityRef")?,
                    value,
                    time_gap,
                    freespace: self.bool_or(a, "freespace", false)?,
                    continuous: self.bool_or(a, "continuous", false)?,
                    leading,
                }
            }
            _ => {
                self.unsupported(a, "this longitudinal action")?;
                return Ok(None);
            }
        }))
    }

    /// A LateralAction: a lane change or a lane offset.
    fn lateral_action(&mut self, c: Node<'d, 'i>) -> R<Option<PrivateAction>> {
        let a = self.choice(c)?;
        Ok(Some(match a.tag_name().name() {
            "LaneChangeAction" => {
                let d = self.dynamics(self.req_child(a, "LaneChangeActionDynamics")?)?;
                let t = self.choice(self.req_child(a, "LaneChangeTarget")?)?;
                let target = match t.tag_name().name() {
                    "AbsoluteTargetLane" => LaneTarget::Absolute(self.int(t, "value")?),
                    "RelativeTargetLane" => LaneTarget::Relative {
                        entity: self.string(t, "entityRef")?,
                        value: self.int(t, "value")?,
                    },
                    _ => return Err(self.err(t, "unknown lane change target")),
                };
                PrivateAction::LaneChange {
                    dynamics: d,
                    target,
                    target_offset: self.opt_num(a, "targetLaneOffset")?.unwrap_or(0.0),
                }
            }
            "LaneOffsetAction" => {
                let d = self.req_child(a, "LaneOffsetActionDynamics")?;
                let shape = self.shape(d)?;
                let t = self.choice(self.req_child(a, "LaneOffsetTarget")?)?;
                let target = match t.tag_name().name() {
                    "AbsoluteTargetLaneOffset" => OffsetTarget::Absolute(self.num(t, "value")?),
                    "RelativeTargetLaneOffset" => OffsetTarget::Relative {
                        entity: self.string(t, "entityRef")?,
                        value: self.num(t, "value")?,
                    },
                    _ => return Err(self.err(t, "unknown lane offset target")),
                };
                PrivateAction::LaneOffset {
                    max_lateral_acc: self.opt_num(d, "maxLateralAcc")?,
                    shape,
                    target,
                    continuous: self.bool_or(a, "continuous", false)?,
                }
            }
            _ => {
                self.unsupported(a, "this lateral action")?;
                return Ok(None);
            }
        }))
    }

    /// A RoutingAction: a route, a position to reach or a trajectory.
    fn routing_action(&mut self, c: Node<'d, 'i>) -> R<Option<PrivateAction>> {
        let a = self.choice(c)?;
        Ok(Some(match a.tag_name().name() {
            "AssignRouteAction" => {
                let r = self.choice(a)?;
                let route = match r.tag_name().name() {
                    "Route" => self.route(r)?,
                    "CatalogReference" => self.catalog_entry(r, |rd, node| {
                        if !node.has_tag_name("Route") {
                            return Err(rd.err(node, "the catalog entry is not a Route"));
                        }
                        rd.route(node)
                    })?,
                    _ => return Err(self.err(r, "unknown route")),
                };
                PrivateAction::AssignRoute(route)
            }
            "AcquirePositionAction" => PrivateAction::AcquirePosition(self.position_in(a)?),
            "FollowTrajectoryAction" => self.follow_trajectory(a)?,
            _ => {
                self.unsupported(a, "this routing action")?;
                return Ok(None);
            }
        }))
    }

    /// A ControllerAction: controller activation; assigned controllers are
    /// accepted (the default controller or the policy stays in charge).
    fn controller_action(&mut self, c: Node<'d, 'i>) -> R<Option<PrivateAction>> {
        let mut out = None;
        for a in elements(c) {
            match a.tag_name().name() {
                "ActivateControllerAction" => out = Some(self.activate(a)?),
                // The default controller (or the policy) stays in charge.
                "AssignControllerAction" => {
                    out.get_or_insert(PrivateAction::Accepted("AssignControllerAction"));
                }
                _ => self.unsupported(a, "this controller action")?,
            }
        }
        Ok(out)
    }

    fn activate(&self, a: Node) -> R<PrivateAction> {
        Ok(PrivateAction::ActivateController {
            lateral: self.bool_or(a, "lateral", true)?,
            longitudinal: self.bool_or(a, "longitudinal", true)?,
        })
    }

    fn route(&mut self, r: Node<'d, 'i>) -> R<Vec<Position>> {
        let mut out = Vec::new();
        for w in elements(r) {
            match w.tag_name().name() {
                "Waypoint" => out.push(self.position_in(w)?),
                "ParameterDeclarations" => {}
                _ => self.unsupported(w, "this Route element")?,
            }
        }
        if out.len() < 2 {
            return Err(self.err(r, "a route needs at least two waypoints"));
        }
        Ok(out)
    }

    fn follow_trajectory(&mut self, a: Node<'d, 'i>) -> R<PrivateAction> {
        let traj = if let Some(t) = self.child(a, "Trajectory") {
            t
        } else if let Some(tr) = self.child(a, "TrajectoryRef") {
            let inner = self.choice(tr)?;
            if inner.has_tag_name("CatalogReference") {
                self.unsupported(inner, "a trajectory from a catalog")?;
                return Ok(PrivateAction::Accepted("skipped"));
            }
            inner
        } else {
            return Err(self.err(a, "lacks its <Trajectory> or <TrajectoryRef>"));
        };
        let shape = self.choice(self.req_child(traj, "Shape")?)?;
        if !shape.has_tag_name("Polyline") {
            self.unsupported(shape, "this trajectory shape (polylines are)")?;
            return Ok(PrivateAction::Accepted("skipped"));
        }
        let mut vertices = Vec::new();
        for v in elements(shape) {
            if !v.has_tag_name("Vertex") {
                self.unsupported(v, "this Polyline element")?;
                continue;
            }
            vertices.push(Vertex {
                time: self.opt_num(v, "time")?,
                position: self.position_in(v)?,
            });
        }
        if vertices.len() < 2 {
            return Err(self.err(shape, "a polyline needs at least two vertices"));
        }
        let mut timed = false;
        let (mut scale, mut offset, mut absolute) = (1.0, 0.0, false);
        if let Some(tr) = self.child(a, "TimeReference")
            && let Some(t) = self.child(tr, "Timing")
        {
            timed = true;
            scale = self.opt_num(t, "scale")?.unwrap_or(1.0);
            offset = self.opt_num(t, "offset")?.unwrap_or(0.0);
            absolute = self.opt_string(t, "domainAbsoluteRelative")?.as_deref() == Some("absolute");
            if vertices.iter().any(|v| v.time.is_none()) {
                return Err(self.err(t, "timing needs a time on every vertex"));
            }
            if vertices.windows(2).any(|w| w[1].time < w[0].time) || scale <= 0.0 {
                return Err(self.err(t, "vertex times must not decrease and scale must be > 0"));
            }
        }
        Ok(PrivateAction::FollowTrajectory {
            vertices,
            timed,
            scale,
            offset,
            absolute,
        })
    }

    fn shape(&self, d: Node) -> R<Shape> {
        Ok(match self.string(d, "dynamicsShape")?.as_str() {
            "step" => Shape::Step,
            "linear" => Shape::Linear,
            "cubic" => Shape::Cubic,
            "sinusoidal" => Shape::Sinusoidal,
            other => return Err(self.err(d, format!("unknown dynamicsShape {other:?}"))),
        })
    }

    fn dynamics(&self, d: Node) -> R<Dynamics> {
        let shape = self.shape(d)?;
        let dimension = match self.string(d, "dynamicsDimension")?.as_str() {
            "time" => Dimension::Time,
            "distance" => Dimension::Distance,
            "rate" => Dimension::Rate,
            other => return Err(self.err(d, format!("unknown dynamicsDimension {other:?}"))),
        };
        let value = self.num(d, "value")?;
        if value < 0.0 {
            return Err(self.err(d, format!("value {value} must be >= 0")));
        }
        Ok(Dynamics {
            shape,
            dimension,
            value,
        })
    }

    pub(super) fn global_action(&mut self, n: Node<'d, 'i>) -> R<Option<ActionKind>> {
        let c = self.choice(n)?;
        let g = match c.tag_name().name() {
            "EnvironmentAction" => {
                let what = elements(c)
                    .next()
                    .map(|e| {
                        e.attribute("name")
                            .or(e.attribute("entryName"))
                            .unwrap_or(e.tag_name().name())
                            .to_owned()
                    })
                    .unwrap_or_default();
                GlobalAction::Environment(what)
            }
            "EntityAction" => {
                let entity = self.string(c, "entityRef")?;
                let a = self.choice(c)?;
                match a.tag_name().name() {
                    "AddEntityAction" => GlobalAction::AddEntity {
                        entity,
                        position: self.position_in(a)?,
                    },
                    "DeleteEntityAction" => GlobalAction::DeleteEntity { entity },
                    _ => return Err(self.err(a, "unknown entity action")),
                }
            }
            "ParameterAction" => {
                let name = self.string(c, "parameterRef")?;
                let a = self.choice(c)?;
                match a.tag_name().name() {
                    "SetAction" => GlobalAction::ParameterSet {
                        name,
                        value: self.string(a, "value")?,
                    },
                    "ModifyAction" => {
                        let rule = self.choice(self.req_child(a, "Rule")?)?;
                        match rule.tag_name().name() {
                            "AddValue" => GlobalAction::ParameterAdd {
                                name,
                                value: self.num(rule, "value")?,
                            },
                            "MultiplyByValue" => GlobalAction::ParameterMultiply {
                                name,
                                value: self.num(rule, "value")?,
                            },
                            _ => return Err(self.err(rule, "unknown parameter modify rule")),
                        }
                    }
                    _ => return Err(self.err(a, "unknown parameter action")),
                }
            }
            _ => {
                self.unsupported(c, "this global action")?;
                return Ok(None);
            }
        };
        Ok(Some(ActionKind::Global(g)))
    }
}
